#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H
/* Intentionally empty: the trampoline below has no API for Swift. */
#endif
