/*
 * search_impl.h — internals shared by the search module's .c files.
 */
#ifndef KS_SEARCH_IMPL_H
#define KS_SEARCH_IMPL_H

#include "search.h"

#include <math.h>
#include <stddef.h>

#endif
