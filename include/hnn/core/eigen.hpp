// The one way hnn's headers include Eigen: <Eigen/Core>, preceded, for GCC before 13 compiling for
// AVX-512, by the intrinsics headers under a diagnostic pragma. GCC 12 reports -Wmaybe-uninitialized
// inside its own AVX-512 intrinsics (GCC bug 105593: the deliberately self-initialised value of
// _mm_undefined_ps) wherever Eigen's packets are inlined into hnn's or a user's code: about 280
// warnings in a LeNet trainer built with -march=native. The pragma covers the lines of the intrinsics
// headers only, so hnn's and the user's own code keep every warning; it takes effect when this is the
// first include of <immintrin.h> in the translation unit (include hnn before any other intrinsics).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <Eigen/Core>
