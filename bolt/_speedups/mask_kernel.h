/* XOR masking of WebSocket payloads (RFC 6455 §5.3), shared by mask.pyx and frames.pyx.
 *
 * RFC 6455 §5.3: byte i of a payload is XORed with key[i % 4]. bolt unmasks payloads as they arrive,
 * possibly in pieces, so both functions take a key phase: byte i of the buffer is XORed with
 * key[(phase + i) % 4], where phase is the number of payload bytes that came before this piece.
 *
 * The key is rotated by the phase once, so the buffer starts at key byte 0. Every block whose length
 * is a multiple of 4 then meets the same repeated key: 32-byte AVX2 vectors (x86-64 with GCC or
 * Clang, chosen at run time), 16-byte SSE2 or NEON vectors, 8-byte words, and the last 0 to 7 bytes
 * one by one. Before the AVX2 blocks, the bytes up to dst's next 32-byte boundary go through the
 * narrow path, and the key is rotated again for the new phase.
 *
 * The pointers may have any alignment. Loads and stores go through memcpy or the unaligned vector
 * intrinsics, never through a cast to uint64_t *: that is undefined behaviour in C, and a fault on
 * CPUs that trap unaligned word accesses. Compilers turn an 8-byte memcpy into a single move.
 *
 * Everything is static because two extension modules include this header.
 */
#ifndef BOLT_MASK_KERNEL_H
#define BOLT_MASK_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__cplusplus)
#define BOLT_MASK_INLINE __inline
#else
#define BOLT_MASK_INLINE inline
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define BOLT_MASK_SSE2 1
#include <emmintrin.h>
/* AVX2 is not in the x86-64 baseline, so it is compiled for one function with a target attribute
 * and used only when the CPU has it. MSVC (and clang-cl, which defines _MSC_VER) has neither the
 * attribute nor __builtin_cpu_supports: it stays on SSE2. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#define BOLT_MASK_AVX2 1
#include <immintrin.h>
#endif
/* NEON on little-endian ARM64 only: the key vector is made from the key word by a lane cast, whose
 * byte order matches memory only there. Big-endian ARM64 takes the portable word path. */
#elif defined(_M_ARM64) || (defined(__aarch64__) && defined(__BYTE_ORDER__) && \
                            __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#define BOLT_MASK_NEON 1
#include <arm_neon.h>
#endif

/* Below this many bytes the AVX2 path (dispatch check, alignment head, 32-byte blocks) is no faster
 * than SSE2 alone: measured break-even between 128 and 192 bytes. */
#define BOLT_MASK_AVX2_MIN_BYTES 128

#if defined(BOLT_MASK_AVX2)
/* -1 until the CPU was asked, then 0 or 1. Each extension module including this header has its own
 * copy; threads racing on the first call all store the same answer. */
static int bolt_mask__avx2_state = -1;

static BOLT_MASK_INLINE int bolt_mask__has_avx2(void)
{
    if (bolt_mask__avx2_state < 0) {
        /* Also checks that the OS saves the AVX registers (XGETBV), not only the CPUID bit. */
        __builtin_cpu_init();
        bolt_mask__avx2_state = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return bolt_mask__avx2_state;
}

/* XORs the longest prefix of whole 32-byte blocks and returns its length. Four vectors per round:
 * all loads issue before any store, which keeps enough loads in flight to reach memory speed. */
__attribute__((target("avx2"))) static size_t bolt_mask__avx2_blocks(
    unsigned char *dst, const unsigned char *src, size_t n, uint32_t key32)
{
    const __m256i key = _mm256_set1_epi32((int)key32);
    size_t i = 0;

    for (; i + 128 <= n; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, key));
        _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(b, key));
        _mm256_storeu_si256((__m256i *)(dst + i + 64), _mm256_xor_si256(c, key));
        _mm256_storeu_si256((__m256i *)(dst + i + 96), _mm256_xor_si256(d, key));
    }
    for (; i + 32 <= n; i += 32) {
        __m256i block = _mm256_loadu_si256((const __m256i *)(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(block, key));
    }
    return i;
}
#endif

/* The key as a 32-bit word whose bytes in memory are key[phase], key[phase + 1], ... It is rotated in
 * a register: writing the rotated bytes to memory and loading them back as one word would stall
 * (narrow stores do not forward to a wider load), which costs more than masking 16 bytes. */
static BOLT_MASK_INLINE uint32_t bolt_mask__rotated_key(const unsigned char *key, size_t phase)
{
    const uint32_t one = 1;
    const unsigned shift = (unsigned)(phase & 3) * 8;
    unsigned char lowest_byte;
    uint32_t word;

    memcpy(&word, key, 4);
    /* Compilers fold this byte-order test to a constant, which keeps the header free of
     * platform macros. */
    memcpy(&lowest_byte, &one, 1);
    if (lowest_byte == 1) {
        return (word >> shift) | (word << ((32 - shift) & 31));
    }
    return (word << shift) | (word >> ((32 - shift) & 31));
}

/* What every CPU runs: 16-byte vectors where the CPU has them, then 8-byte words, then bytes.
 * dst is either src itself (in place) or a buffer that does not overlap it: every block is loaded
 * before it is stored, so both are safe. */
static BOLT_MASK_INLINE void bolt_mask__xor_narrow(
    unsigned char *dst, const unsigned char *src, size_t n, const unsigned char *key, size_t phase)
{
    const uint32_t key32 = bolt_mask__rotated_key(key, phase);
    const uint64_t key64 = ((uint64_t)key32 << 32) | key32;
    size_t i = 0;

#if defined(BOLT_MASK_SSE2)
    {
        const __m128i key128 = _mm_set1_epi32((int)key32);
        for (; i + 16 <= n; i += 16) {
            __m128i block = _mm_loadu_si128((const __m128i *)(src + i));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(block, key128));
        }
    }
#elif defined(BOLT_MASK_NEON)
    {
        const uint8x16_t key128 = vreinterpretq_u8_u32(vdupq_n_u32(key32));
        for (; i + 32 <= n; i += 32) {
            uint8x16_t low = vld1q_u8(src + i);
            uint8x16_t high = vld1q_u8(src + i + 16);
            vst1q_u8(dst + i, veorq_u8(low, key128));
            vst1q_u8(dst + i + 16, veorq_u8(high, key128));
        }
        if (i + 16 <= n) {
            vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), key128));
            i += 16;
        }
    }
#endif

    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= key64;
        memcpy(dst + i, &word, 8);
    }
    /* Every block above was a multiple of 4 bytes long, so byte i still meets key byte phase + i. */
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[(phase + i) & 3];
    }
}

static BOLT_MASK_INLINE void bolt_mask__xor(
    unsigned char *dst, const unsigned char *src, size_t n, const unsigned char *key, size_t phase)
{
#if defined(BOLT_MASK_AVX2)
    if (n >= BOLT_MASK_AVX2_MIN_BYTES && bolt_mask__has_avx2()) {
        /* First the 0 to 31 bytes that bring dst to a 32-byte boundary. Python's buffers are only
         * 16-byte aligned, and a vector straddling two cache lines costs two accesses: aligned
         * stores mask a buffer in L1 or L2 about 40% faster. */
        size_t head = (size_t)(((uintptr_t)0 - (uintptr_t)dst) & 31);
        size_t done;
        bolt_mask__xor_narrow(dst, src, head, key, phase);
        done = head + bolt_mask__avx2_blocks(dst + head, src + head, n - head,
                                             bolt_mask__rotated_key(key, phase + head));
        dst += done;
        src += done;
        n -= done;
        phase += done;
    }
#endif
    bolt_mask__xor_narrow(dst, src, n, key, phase);
}

/* XOR data[0..n) in place with key, starting at key byte `phase` (0..3; callers may pass any size_t, use phase & 3). */
static BOLT_MASK_INLINE void bolt_mask_inplace(
    unsigned char *data, size_t n, const unsigned char *key, size_t phase)
{
    bolt_mask__xor(data, data, n, key, phase);
}

/* dst[i] = src[i] ^ key[(phase + i) & 3]; dst and src do not overlap. */
static BOLT_MASK_INLINE void bolt_mask_copy(
    unsigned char *dst, const unsigned char *src, size_t n, const unsigned char *key, size_t phase)
{
    bolt_mask__xor(dst, src, n, key, phase);
}

#endif /* BOLT_MASK_KERNEL_H */
