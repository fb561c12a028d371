/*
 * co_resume_labels.h -- resume points as label addresses (GCC and Clang).
 *
 * Part of macros/co.h, which includes it when CO_USE_SWITCH is 0 (the
 * default on GCC and Clang); it implements the four resume-point operations
 * and the check described there.  Not a header to include on its own.
 *
 * How it works.  GCC's "labels as values" extension gives a label an
 * address: `&&name` is where the code at label `name` starts, and
 * `goto *p` jumps to such an address.  A resume point is then an ordinary
 * label, co__resume_7 say; suspending stores its address in the frame, and
 * the next call jumps straight back through it:
 *
 *     f->pc = (uintptr_t)&&co__resume_7;     CO__RESUME_SAVE(f, 7)
 *     co__resume_7:                          CO__RESUME_LABEL(7)
 *     ...
 *     if (f->pc) goto *(void *)f->pc;        CO__RESUME_ENTRY, on each call
 *
 * Because the label is a plain label it belongs to no `switch`, so a
 * coroutine body may contain `switch` statements of its own with awaits in
 * their cases.  The cost is portability: ISO C has no label addresses, and
 * -Wpedantic says so (pedantic builds choose the switch backend).
 *
 * The address goes into `pc` as an integer: GCC's -Wdangling-pointer (in
 * -Wall) takes a label for something local to the function and reports its
 * address stored in a frame that outlives the call; the address is code,
 * not stack, and the integer says so.  It is valid for this run of this
 * binary only: never write a frame's pc to disk.
 */
#ifndef CO_RESUME_LABELS_H
#define CO_RESUME_LABELS_H

#ifndef CO_H
#  error "include macros/co.h, not macros/co_resume_labels.h"
#endif

#define CO__RESUME_SAVE(f, n) ((f)->pc = (uintptr_t)&&CO__CAT(co__resume_, n))

#define CO__RESUME_LABEL(n) CO__CAT(co__resume_, n):

/* The selector stays CO__SEL_START: the switch is used only for
 * CO_FINALLY and the end, never to find a resume point. */
#define CO__RESUME_ENTRY(f, sel)                                             \
    do {                                                                     \
        if ((f)->pc)                                                         \
            goto *(void *)(f)->pc;                                           \
    } while (0)

/* The finished state is one more label, at the end: a later call jumps
 * there and returns the result again without touching the body. */
#define CO__RESUME_DONE(f)                                                   \
    co__done:                                                                \
    ((f)->pc = (uintptr_t)&&co__done)

/* A label cannot be captured by anything: no resume point gets lost. */
#define CO__RESUME_LOST(sel) ((void)0)

#endif /* CO_RESUME_LABELS_H */
