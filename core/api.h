/*
 * api.h -- CO_API, the mark of what libcurio.so exports.
 *
 * The library is compiled with -fvisibility=hidden, so a function or
 * variable leaves libcurio.so only when its declaration in an installed
 * header carries CO_API (Lua's LUA_API does the same job).  Everything else
 * -- the co__ helpers that the library's files share through their
 * *_impl.h headers -- stays inside: a program cannot come to depend on it,
 * and calls between the library's own files need no PLT.
 * tests/exports.sh compares the exports with the marked declarations.
 *
 * Every installed header that declares functions includes this one.  A
 * program linking libcurio.a is not affected (static linking ignores
 * visibility).  Defining CO_API before the first include overrides it
 * (e.g. empty, for a compiler that has no visibility attribute).
 */
#ifndef CO_API_H
#define CO_API_H

#ifndef CO_API
#  if defined(__GNUC__) || defined(__clang__)
#    define CO_API __attribute__((visibility("default")))
#  else
#    define CO_API
#  endif
#endif

#endif /* CO_API_H */
