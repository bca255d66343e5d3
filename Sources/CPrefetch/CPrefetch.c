// The module is header-only (one static inline function); SwiftPM wants a source file.
#include "CPrefetch.h"
