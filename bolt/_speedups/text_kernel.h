/* Text messages to and from CPython's str storage (PEP 393), without the codec machinery.
 *
 * Included by frames.pyx. A str stores one code point per element, in the narrowest of three widths
 * its largest code point allows: 1 byte (up to U+00FF), 2 bytes (up to U+FFFF) or 4 bytes. CPython
 * compares strings by width first, so a str must always be built in its narrowest width.
 *
 * Decoding (UTF-8 to a str) is two passes: bolt_text_measure() counts the code points and finds the
 * largest byte, which gives the width exactly (a lead byte of F0 or more starts a code point of
 * U+10000 or more, E0..EF one of U+0800 or more, C4..DF one of U+0100 or more, C2..C3 one up to
 * U+00FF; continuation bytes are below every lead byte), then bolt_text_decode_{1,2,4}() writes the
 * code points of text validated already (as it arrived, with utf8_kernel.h), or
 * bolt_text_decode_checked_{1,2,4}() validates while it writes them. CPython's decoder instead starts narrow and widens, copying again, at the first
 * wider code point, which is what makes it slow on mixed scripts.
 *
 * Encoding (a str to UTF-8) measures the output first (bolt_text_size_{1,2,4}(), -1 for a lone
 * surrogate, which UTF-8 cannot encode: the caller lets CPython raise its own error), so the bytes
 * go straight into the frame after its header.
 */
#ifndef BOLT_TEXT_KERNEL_H
#define BOLT_TEXT_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__cplusplus)
#define BOLT_TEXT_INLINE __inline
#else
#define BOLT_TEXT_INLINE inline
#endif

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define BOLT_TEXT_SSE2 1
#endif

#define BOLT_TEXT_HIGH_BITS 0x8080808080808080ull

/* Set bits in a 16-bit mask (portable: no compiler builtin). */
static BOLT_TEXT_INLINE unsigned bolt_text_popcount16(unsigned x)
{
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0F0Fu;
    return (x + (x >> 8)) & 0x1Fu;
}

/* How many code points the valid UTF-8 at p holds (bytes that are not continuation bytes 80..BF),
 * and its largest byte. */
static BOLT_TEXT_INLINE void bolt_text_measure(const unsigned char *p, size_t n, size_t *chars,
                                               unsigned char *largest)
{
    const unsigned char *end = p + n;
    size_t continuations = 0;
    unsigned char top = 0;
#if defined(BOLT_TEXT_SSE2)
    __m128i top_v = _mm_setzero_si128();
    const __m128i below = _mm_set1_epi8((char)0xC0);   /* signed: 80..BF are -128..-65, under -64 */
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        top_v = _mm_max_epu8(top_v, v);
        continuations += bolt_text_popcount16((unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, below)));
        p += 16;
    }
    {
        unsigned char lanes[16];
        int i;
        _mm_storeu_si128((__m128i *)lanes, top_v);
        for (i = 0; i < 16; i++)
            if (lanes[i] > top)
                top = lanes[i];
    }
#endif
    for (; p < end; p++) {
        if (*p > top)
            top = *p;
        continuations += (*p & 0xC0) == 0x80;
    }
    *chars = n - continuations;
    *largest = top;
}

/* Copy ASCII from src to dst, 32 bytes a step with SSE2 (16 without), up to the first byte that is not ASCII; returns how
 * many bytes were copied (n when all are ASCII). For a message that is most likely ASCII: one pass
 * that both checks and copies, where measuring first would read the text twice. */
static BOLT_TEXT_INLINE size_t bolt_text_copy_ascii(unsigned char *dst, const unsigned char *src, size_t n)
{
    size_t i = 0;
    uint64_t a, b;
#if defined(BOLT_TEXT_SSE2)
    while (n - i >= 32) {
        __m128i x = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i y = _mm_loadu_si128((const __m128i *)(src + i + 16));
        if (_mm_movemask_epi8(_mm_or_si128(x, y)) != 0)
            break;
        _mm_storeu_si128((__m128i *)(dst + i), x);
        _mm_storeu_si128((__m128i *)(dst + i + 16), y);
        i += 32;
    }
#endif
    while (n - i >= 16) {
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        if ((a | b) & BOLT_TEXT_HIGH_BITS)
            break;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        i += 16;
    }
    while (i < n && src[i] < 0x80) {
        dst[i] = src[i];
        i++;
    }
    return i;
}

/* The largest code point a str of that UTF-8 needs room for, from its largest byte: 127, 255,
 * 65535 or 1114111, as PyUnicode_New() takes it. */
static BOLT_TEXT_INLINE uint32_t bolt_text_maxchar(unsigned char largest)
{
    if (largest < 0x80)
        return 0x7F;
    if (largest < 0xC4)
        return 0xFF;
    if (largest < 0xF0)
        return 0xFFFF;
    return 0x10FFFF;
}

/* Widen a run of ASCII at p into out, 8 bytes a step (a statement, for the decoders below). */
#define BOLT_TEXT_ASCII_RUN(T)                                                                 \
    {                                                                                         \
        uint64_t word;                                                                        \
        int i;                                                                                \
        while (end - p >= 8) {                                                                \
            memcpy(&word, p, 8);                                                              \
            if (word & BOLT_TEXT_HIGH_BITS)                                                   \
                break;                                                                        \
            for (i = 0; i < 8; i++)                                                           \
                out[i] = (T)p[i];                                                             \
            out += 8;                                                                         \
            p += 8;                                                                           \
        }                                                                                     \
        while (p < end && *p < 0x80)                                                          \
            *out++ = (T)*p++;                                                                 \
    }

/* Decode valid UTF-8 into code points of type T. */
#define BOLT_TEXT_DECODER(NAME, T)                                                             \
    static BOLT_TEXT_INLINE void NAME(const unsigned char *p, size_t n, T *out)              \
    {                                                                                         \
        const unsigned char *end = p + n;                                                    \
        while (p < end) {                                                                     \
            unsigned c = *p;                                                                  \
            if (c < 0x80) {                                                                   \
                BOLT_TEXT_ASCII_RUN(T)                                                        \
            } else if (c < 0xE0) {                                                            \
                *out++ = (T)(((c & 0x1Fu) << 6) | (p[1] & 0x3Fu));                            \
                p += 2;                                                                       \
            } else if (c < 0xF0) {                                                            \
                *out++ = (T)(((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu));   \
                p += 3;                                                                       \
            } else {                                                                          \
                *out++ = (T)(((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) |                   \
                             ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu));                         \
                p += 4;                                                                       \
            }                                                                                 \
        }                                                                                     \
    }

BOLT_TEXT_DECODER(bolt_text_decode_1, uint8_t)
BOLT_TEXT_DECODER(bolt_text_decode_2, uint16_t)
BOLT_TEXT_DECODER(bolt_text_decode_4, uint32_t)

/* Decode UTF-8 that has not been validated, validating as it goes (RFC 3629 §4, as utf8_kernel.h):
 * one pass instead of a validation pass and a decoding pass. Returns 0 at the first byte that is
 * not valid UTF-8 (a sequence cut by the end of the data included). Each code point written
 * before that had its own lead byte, so ``out`` never receives more than the count of
 * bolt_text_measure(); and T is never too narrow for a code point that validates, since the width
 * came from the largest byte. */
#define BOLT_TEXT_CHECKED_DECODER(NAME, T)                                                     \
    static BOLT_TEXT_INLINE int NAME(const unsigned char *p, size_t n, T *out)               \
    {                                                                                         \
        const unsigned char *end = p + n;                                                    \
        while (p < end) {                                                                     \
            unsigned c = *p;                                                                  \
            if (c < 0x80) {                                                                   \
                BOLT_TEXT_ASCII_RUN(T)                                                        \
            } else if (c < 0xE0) {                                                            \
                if (c < 0xC2 || end - p < 2 || (p[1] & 0xC0) != 0x80)                        \
                    return 0;                                                                 \
                *out++ = (T)(((c & 0x1Fu) << 6) | (p[1] & 0x3Fu));                            \
                p += 2;                                                                       \
            } else if (c < 0xF0) {                                                            \
                if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||          \
                    (c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))                 \
                    return 0;                                                                 \
                *out++ = (T)(((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu));   \
                p += 3;                                                                       \
            } else {                                                                          \
                if (c > 0xF4 || end - p < 4 || (p[1] & 0xC0) != 0x80 ||                       \
                    (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80 ||                         \
                    (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))                 \
                    return 0;                                                                 \
                *out++ = (T)(((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) |                   \
                             ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu));                         \
                p += 4;                                                                       \
            }                                                                                 \
        }                                                                                     \
        return 1;                                                                             \
    }

BOLT_TEXT_CHECKED_DECODER(bolt_text_decode_checked_1, uint8_t)
BOLT_TEXT_CHECKED_DECODER(bolt_text_decode_checked_2, uint16_t)
BOLT_TEXT_CHECKED_DECODER(bolt_text_decode_checked_4, uint32_t)

/* The UTF-8 size of n code points of one byte each. */
static BOLT_TEXT_INLINE ptrdiff_t bolt_text_size_1(const uint8_t *s, size_t n)
{
    size_t size = n, i;
    for (i = 0; i < n; i++)
        size += s[i] >> 7;
    return (ptrdiff_t)size;
}

/* The UTF-8 size of n code points of two or four bytes each; -1 if one is a surrogate. Without a
 * branch per code point, so that the compiler vectorizes it: mixed scripts defeat branch
 * prediction. */
#define BOLT_TEXT_SIZER(NAME, T)                                                               \
    static BOLT_TEXT_INLINE ptrdiff_t NAME(const T *s, size_t n)                             \
    {                                                                                         \
        size_t size = n, i;                                                                   \
        uint32_t surrogates = 0;                                                              \
        for (i = 0; i < n; i++) {                                                             \
            uint32_t c = s[i];                                                                \
            size += (c >= 0x80u) + (c >= 0x800u) + (c >= 0x10000u);                           \
            surrogates |= (c & 0xFFFFF800u) == 0xD800u;                                       \
        }                                                                                     \
        return surrogates ? -1 : (ptrdiff_t)size;                                             \
    }

BOLT_TEXT_SIZER(bolt_text_size_2, uint16_t)
BOLT_TEXT_SIZER(bolt_text_size_4, uint32_t)

/* Encode n code points (no surrogates: size them first) as UTF-8 at out. */
#define BOLT_TEXT_ENCODER(NAME, T)                                                             \
    static BOLT_TEXT_INLINE void NAME(const T *s, size_t n, unsigned char *out)              \
    {                                                                                         \
        size_t i;                                                                             \
        for (i = 0; i < n; i++) {                                                             \
            uint32_t c = s[i];                                                                \
            if (c < 0x80) {                                                                   \
                *out++ = (unsigned char)c;                                                    \
            } else if (c < 0x800) {                                                           \
                *out++ = (unsigned char)(0xC0 | (c >> 6));                                    \
                *out++ = (unsigned char)(0x80 | (c & 0x3F));                                  \
            } else if (c < 0x10000) {                                                         \
                *out++ = (unsigned char)(0xE0 | (c >> 12));                                   \
                *out++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));                           \
                *out++ = (unsigned char)(0x80 | (c & 0x3F));                                  \
            } else {                                                                          \
                *out++ = (unsigned char)(0xF0 | (c >> 18));                                   \
                *out++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));                          \
                *out++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));                           \
                *out++ = (unsigned char)(0x80 | (c & 0x3F));                                  \
            }                                                                                 \
        }                                                                                     \
    }

BOLT_TEXT_ENCODER(bolt_text_encode_1, uint8_t)
BOLT_TEXT_ENCODER(bolt_text_encode_2, uint16_t)
BOLT_TEXT_ENCODER(bolt_text_encode_4, uint32_t)

#endif
