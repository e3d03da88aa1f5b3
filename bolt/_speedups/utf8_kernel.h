/* Incremental UTF-8 validation of text messages (RFC 6455 §8.1), exactly RFC 3629 §4.
 *
 * Included by utf8.pyx and by frames.pyx: every function is static, so each extension has its own copy
 * and nothing needs linking. A text frame is validated while it is still arriving and across fragments,
 * and the validator fails fast: feed() returns 0 at the first byte after which no continuation could be
 * valid (ED A0 fails at A0, F4 90 at 90, C0 at once), so the connection can close with 1007 without
 * waiting for the rest of the message.
 *
 * The validator is a DFA over byte classes. Each state is a bit offset (a multiple of 6) into a 64-bit
 * row, one row per byte class, that holds every state's successor for that class:
 *     next = (row[class[byte]] >> state) & 63
 * The row lookup does not depend on the state, so the chain from one byte to the next is one shift:
 * about a byte a cycle for any script. Runs of ASCII at a character boundary skip the DFA 32 bytes a
 * step with SSE2 or NEON and 16 a step (two 8-byte words) elsewhere.
 */
#ifndef BOLT_UTF8_KERNEL_H
#define BOLT_UTF8_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__cplusplus)
#define BOLT_UTF8_INLINE __inline
#else
#define BOLT_UTF8_INLINE inline
#endif

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define BOLT_UTF8_SSE2 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>
#define BOLT_UTF8_NEON 1
#endif

typedef struct { uint32_t state; } bolt_utf8_state;   /* zero-initialised == fresh */

/* DFA states, as bit offsets into a row. REJECT is 0 so that every transition a row does not list is a
 * rejection, and a rejection is sticky (every row sends state 0 to 0). */
#define BOLT_UTF8_REJECT   0u
#define BOLT_UTF8_ACCEPT   6u    /* at a character boundary */
#define BOLT_UTF8_NEED1   12u    /* one more continuation byte, 80..BF */
#define BOLT_UTF8_NEED2   18u    /* two more */
#define BOLT_UTF8_NEED3   24u    /* three more */
#define BOLT_UTF8_AFTER_E0 30u   /* E0 seen: A0..BF next, lower would be an overlong 3-byte form */
#define BOLT_UTF8_AFTER_ED 36u   /* ED seen: 80..9F next, higher would encode a surrogate D800..DFFF */
#define BOLT_UTF8_AFTER_F0 42u   /* F0 seen: 90..BF next, lower would be an overlong 4-byte form */
#define BOLT_UTF8_AFTER_F4 48u   /* F4 seen: 80..8F next, higher would be beyond U+10FFFF */

/* Byte classes: the grammar of RFC 3629 §4 tells these bytes apart and no others. */
enum {
    BOLT_UTF8_ASCII,      /* 00..7F   UTF8-1 */
    BOLT_UTF8_CONT_LOW,   /* 80..8F   continuation */
    BOLT_UTF8_CONT_MID,   /* 90..9F   continuation */
    BOLT_UTF8_CONT_HIGH,  /* A0..BF   continuation */
    BOLT_UTF8_NEVER,      /* C0 C1 F5..FF: only overlongs or code points past U+10FFFF start with them */
    BOLT_UTF8_LEAD2,      /* C2..DF   UTF8-2 */
    BOLT_UTF8_LEAD_E0,    /* E0       UTF8-3, second byte restricted */
    BOLT_UTF8_LEAD3,      /* E1..EC EE EF */
    BOLT_UTF8_LEAD_ED,    /* ED       UTF8-3, second byte restricted */
    BOLT_UTF8_LEAD_F0,    /* F0       UTF8-4, second byte restricted */
    BOLT_UTF8_LEAD4,      /* F1..F3 */
    BOLT_UTF8_LEAD_F4,    /* F4       UTF8-4, second byte restricted */
    BOLT_UTF8_CLASSES
};

static const uint8_t bolt_utf8_byte_class[256] = {
    /* 00..7F */
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    /* 80..8F, 90..9F */
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    /* A0..BF */
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    /* C0 C1, C2..DF */
    4,4,5,5,5,5,5,5,5,5,5,5,5,5,5,5, 5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,5,
    /* E0, E1..EC, ED, EE EF;  F0, F1..F3, F4, F5..FF */
    6,7,7,7,7,7,7,7,7,7,7,7,7,8,7,7, 9,10,10,10,11,4,4,4,4,4,4,4,4,4,4,4,
};

#define BOLT_UTF8_GO(from, to) ((uint64_t)(to) << (from))

/* A continuation byte in the third or later position of a character may be any of 80..BF. */
#define BOLT_UTF8_ANY_CONTINUATION (BOLT_UTF8_GO(BOLT_UTF8_NEED1, BOLT_UTF8_ACCEPT) \
                                    | BOLT_UTF8_GO(BOLT_UTF8_NEED2, BOLT_UTF8_NEED1) \
                                    | BOLT_UTF8_GO(BOLT_UTF8_NEED3, BOLT_UTF8_NEED2))

/* For each byte class, the transitions RFC 3629 §4 allows; all others go to REJECT. */
static const uint64_t bolt_utf8_row[BOLT_UTF8_CLASSES] = {
    /* ASCII */     BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_ACCEPT),
    /* 80..8F */    BOLT_UTF8_ANY_CONTINUATION | BOLT_UTF8_GO(BOLT_UTF8_AFTER_ED, BOLT_UTF8_NEED1)
                                               | BOLT_UTF8_GO(BOLT_UTF8_AFTER_F4, BOLT_UTF8_NEED2),
    /* 90..9F */    BOLT_UTF8_ANY_CONTINUATION | BOLT_UTF8_GO(BOLT_UTF8_AFTER_ED, BOLT_UTF8_NEED1)
                                               | BOLT_UTF8_GO(BOLT_UTF8_AFTER_F0, BOLT_UTF8_NEED2),
    /* A0..BF */    BOLT_UTF8_ANY_CONTINUATION | BOLT_UTF8_GO(BOLT_UTF8_AFTER_E0, BOLT_UTF8_NEED1)
                                               | BOLT_UTF8_GO(BOLT_UTF8_AFTER_F0, BOLT_UTF8_NEED2),
    /* never */     0,
    /* C2..DF */    BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_NEED1),
    /* E0 */        BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_AFTER_E0),
    /* E1..EF */    BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_NEED2),
    /* ED */        BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_AFTER_ED),
    /* F0 */        BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_AFTER_F0),
    /* F1..F3 */    BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_NEED3),
    /* F4 */        BOLT_UTF8_GO(BOLT_UTF8_ACCEPT, BOLT_UTF8_AFTER_F4),
};

#define BOLT_UTF8_HIGH_BITS 0x8080808080808080ull

/* The first byte at or after p that is not ASCII, or end. Any alignment: loads go through memcpy or the
 * unaligned vector loads, never a cast to uint64_t * (undefined behaviour, and a fault on some CPUs). */
static BOLT_UTF8_INLINE const unsigned char *bolt_utf8_skip_ascii(const unsigned char *p,
                                                                   const unsigned char *end)
{
    uint64_t a, b;
#if defined(BOLT_UTF8_SSE2)
    while (end - p >= 32) {
        __m128i block = _mm_or_si128(_mm_loadu_si128((const __m128i *)p),
                                     _mm_loadu_si128((const __m128i *)(p + 16)));
        if (_mm_movemask_epi8(block) != 0)
            break;
        p += 32;
    }
#elif defined(BOLT_UTF8_NEON)
    while (end - p >= 32) {
        uint8x16_t block = vorrq_u8(vld1q_u8(p), vld1q_u8(p + 16));
        if (vmaxvq_u8(block) >= 0x80)
            break;
        p += 32;
    }
#endif
    while (end - p >= 16) {
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        if ((a | b) & BOLT_UTF8_HIGH_BITS)
            break;
        p += 16;
    }
    while (p < end && *p < 0x80)
        p++;
    return p;
}

static BOLT_UTF8_INLINE void bolt_utf8_reset(bolt_utf8_state *s)
{
    s->state = 0;
}

/* Bytes the DFA takes between two checks for a rejection or an ASCII run. A fixed count keeps the
 * per-byte loop free of branches other than its own, and a rejection is sticky, so checking once per
 * block answers exactly as checking every byte would. */
#define BOLT_UTF8_BLOCK 16

/* Validate the next n bytes of a stream. Returns 1 while everything seen so far can begin valid UTF-8,
   0 as soon as it cannot (and from then on: the error is sticky until reset). */
static BOLT_UTF8_INLINE int bolt_utf8_feed(bolt_utf8_state *s, const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;
    const unsigned char *stop;
    /* Stored XOR ACCEPT, so that a zeroed bolt_utf8_state is a fresh one. */
    uint64_t state = s->state ^ BOLT_UTF8_ACCEPT;

    while (p < end) {
        if (state == BOLT_UTF8_ACCEPT)
            p = bolt_utf8_skip_ascii(p, end);
        stop = (size_t)(end - p) < BOLT_UTF8_BLOCK ? end : p + BOLT_UTF8_BLOCK;
        /* Only the low 6 bits of the shifted row are the next state; the bits above are ignored by the
         * next shift's "& 63", which x86 and ARM shifts do for free. */
        while (p < stop)
            state = bolt_utf8_row[bolt_utf8_byte_class[*p++]] >> (state & 63);
        state &= 63;
        if (state == BOLT_UTF8_REJECT)
            break;
    }
    s->state = (uint32_t)(state ^ BOLT_UTF8_ACCEPT);
    return state != BOLT_UTF8_REJECT;
}

/* 1 when the stream so far is valid and ends on a character boundary (no sequence half done). */
static BOLT_UTF8_INLINE int bolt_utf8_complete(const bolt_utf8_state *s)
{
    return (s->state ^ BOLT_UTF8_ACCEPT) == BOLT_UTF8_ACCEPT;
}

#endif
