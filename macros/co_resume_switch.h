/*
 * co_resume_switch.h -- resume points as `case` labels (portable C99).
 *
 * Part of macros/co.h, which includes it when CO_USE_SWITCH is 1 (the
 * default on compilers other than GCC and Clang); it implements the four
 * resume-point operations and the check described there.  Not a header to
 * include on its own.
 *
 * How it works.  A `case` label may sit anywhere inside its `switch`, even
 * inside a loop inside the switch, and the switch jumps straight to it: the
 * trick of Duff's device, of Simon Tatham's coroutines and of Adam Dunkels'
 * protothreads.  So the coroutine's own switch (opened by CO_BEGIN) runs on
 * the saved resume point, and every resume point is one of its cases:
 *
 *     f->pc = 10;                  CO__RESUME_SAVE(f, 7)
 *     case 10:                     CO__RESUME_LABEL(7)
 *     ...
 *     sel = f->pc;                 CO__RESUME_ENTRY, before the switch
 *     switch (sel) { ... }
 *
 * The switch's selector values (start, the cleanup section, the end: 0, 1
 * and 2) share the numbers with the resume points, so point n is case
 * n + 3.  The number is kept in a pointer-sized integer: with __LINE__
 * numbering, a line number of any file fits.
 *
 * The limitation: no `switch` of your own around an await.  The await's
 * `case` label would then belong to YOUR switch, the innermost one, not to
 * the coroutine's.  It compiles without a word, but when the coroutine is
 * resumed its switch has no such case and goes to `default`, CO_END.  There
 * CO__RESUME_LOST sees a resume point (a selector above CO__SEL_END) and
 * aborts with a message, rather than finishing silently with the body and
 * the cleanup section skipped.  A `switch` with no await inside is fine;
 * the labels backend lifts the limitation.
 */
#ifndef CO_RESUME_SWITCH_H
#define CO_RESUME_SWITCH_H

#ifndef CO_H
#  error "include macros/co.h, not macros/co_resume_switch.h"
#endif

#include <stdio.h>      /* fprintf, abort: the lost-resume-point message */
#include <stdlib.h>

/* Resume point n's case value: above the selector values. */
#define CO__CASE(n) ((n) + CO__SEL_END + 1)

#define CO__RESUME_SAVE(f, n) ((f)->pc = CO__CASE(n))

/* The annotation tells -Wimplicit-fallthrough (in -Wextra) that running
 * from the save into the case, as CO_AWAIT does, is intended. */
#define CO__RESUME_LABEL(n)                                                  \
    CO__FALLTHROUGH;                                                         \
    case CO__CASE(n):

/* pc IS the selector: a started coroutine's switch jumps to its case, a
 * finished one's to `default` (pc == CO__SEL_END). */
#define CO__RESUME_ENTRY(f, sel) ((sel) = (f)->pc)

#define CO__RESUME_DONE(f) ((f)->pc = CO__SEL_END)

#define CO__RESUME_LOST(sel)                                                 \
    do {                                                                     \
        if ((sel) > CO__SEL_END)                                             \
            co__resume_lost(CO_HERE);                                        \
    } while (0)

static inline void co__resume_lost(const char *where)
{
    fprintf(stderr, "co.h: coroutine ending at %s: resume point not found -- an "
                    "await inside a switch statement needs the labels backend\n",
            where);
    abort();
}

#endif /* CO_RESUME_SWITCH_H */
