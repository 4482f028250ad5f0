// UNVERIFIED AT RUN TIME: compiled with nvcc 13.0 (sm_90) only; no GPU has executed this code yet.
//
// Helpers shared by the psqe CUDA kernels: launch plumbing, warp primitives, order-preserving keys
// and a small block-level tiled matrix product (S = X_tile . Y_tile^T into shared memory) used by
// sim_topk and kmeans.
//
// Include discipline: only c10/cuda headers (CUDAStream.h, CUDAGuard.h, CUDAException.h), never
// ATen/cuda/CUDAContext.h, so the files also compile against a CPU-only torch with
// -DC10_CUDA_NO_CMAKE_CONFIGURE_FILE (tools/check_cuda_compile.sh).
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <limits>
#include <type_traits>

namespace psqe {
namespace cuda {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline int sm_count(int device) {
  int n = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  return n > 0 ? n : 1;
}

// Blocks for a grid-stride loop over `work` items with `per_block` items per block pass.
inline unsigned grid_for(int64_t work, int64_t per_block, int device, int blocks_per_sm = 8) {
  const int64_t want = ceil_div(work > 0 ? work : 1, per_block);
  const int64_t cap = static_cast<int64_t>(sm_count(device)) * blocks_per_sm;
  return static_cast<unsigned>(want < cap ? want : cap);
}

// ---------------------------------------------------------------------------------------------
// Scalar conversions between the storage types (float, double, __half, __nv_bfloat16) and the
// accumulation type.  c10::Half / c10::BFloat16 tensors are read through __half / __nv_bfloat16
// pointers (same bit layout).

template <typename Acc, typename In>
__device__ __forceinline__ Acc to_acc(In v) {
  if constexpr (std::is_same_v<In, __half>) {
    return static_cast<Acc>(__half2float(v));
  } else if constexpr (std::is_same_v<In, __nv_bfloat16>) {
    return static_cast<Acc>(__bfloat162float(v));
  } else {
    return static_cast<Acc>(v);
  }
}

template <typename Out>
__device__ __forceinline__ Out from_float(float v) {
  if constexpr (std::is_same_v<Out, __half>) {
    return __float2half_rn(v);
  } else if constexpr (std::is_same_v<Out, __nv_bfloat16>) {
    return __float2bfloat16_rn(v);
  } else {
    return static_cast<Out>(v);
  }
}

template <typename In>
__device__ __forceinline__ In zero_of() {
  return from_float<In>(0.0f);
}

// ---------------------------------------------------------------------------------------------
// Order-preserving 32-bit image of a float: a < b  <=>  order_bits(a) < order_bits(b) (no NaN).
__device__ __forceinline__ uint32_t order_bits(float f) {
  const uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float from_order_bits(uint32_t u) {
  return __uint_as_float((u & 0x80000000u) ? (u & 0x7fffffffu) : ~u);
}

// Packed "best row for a column" key: value in the high word, ~row in the low word, so that the
// unsigned maximum is the largest value and, among equal values, the lowest row.  0 is below every
// key (order_bits(-inf) = 0x007fffff > 0), so a zero-filled buffer means "no row seen yet".
// -0.0 becomes +0.0 first: they compare equal, so they must tie (and go to the lower row).
__device__ __forceinline__ unsigned long long pack_col_key(float v, uint32_t row) {
  if (v == 0.0f) v = 0.0f;
  return (static_cast<unsigned long long>(order_bits(v)) << 32) | static_cast<unsigned long long>(~row);
}

__device__ __forceinline__ float nan_to_neg_inf(float v) {
  return isnan(v) ? -std::numeric_limits<float>::infinity() : v;
}

// (value desc, index asc) total order used by every top-k list.
__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  return va > vb || (va == vb && ia < ib);
}

constexpr int kNoIndex = std::numeric_limits<int>::max();  // sentinel index (loses every tie)

// Offers one candidate per lane (v, i, valid) to a warp-held top-kk list (kk <= 32): lane l holds
// the l-th best entry (lv, li), sorted by `better`; lanes >= kk hold sentinels that are never read.
// Candidates that beat the current kk-th entry are inserted one at a time (lowest lane first);
// the result does not depend on the insertion order because indices within one list are distinct.
// Must be called by all 32 lanes of a converged warp.
__device__ __forceinline__ void warp_topk_offer(float v, int i, bool valid, float& lv, int& li, int kk, int lane) {
  float tv = __shfl_sync(kFullMask, lv, kk - 1);
  int ti = __shfl_sync(kFullMask, li, kk - 1);
  unsigned pending = __ballot_sync(kFullMask, valid && better(v, i, tv, ti));
  while (pending) {
    const int src = __ffs(pending) - 1;
    const float cv = __shfl_sync(kFullMask, v, src);
    const int ci = __shfl_sync(kFullMask, i, src);
    // Its slot: the number of entries that stay ahead of it (a prefix, the list being sorted).
    // It beats entry kk-1, so pos <= kk-1.
    const int pos = __popc(__ballot_sync(kFullMask, lane < kk && better(lv, li, cv, ci)));
    const float up_v = __shfl_up_sync(kFullMask, lv, 1);
    const int up_i = __shfl_up_sync(kFullMask, li, 1);
    if (lane > pos && lane < kk) {
      lv = up_v;
      li = up_i;
    } else if (lane == pos) {
      lv = cv;
      li = ci;
    }
    tv = __shfl_sync(kFullMask, lv, kk - 1);
    ti = __shfl_sync(kFullMask, li, kk - 1);
    pending &= ~(1u << src);
    pending &= __ballot_sync(kFullMask, valid && better(v, i, tv, ti));
  }
}

// ---------------------------------------------------------------------------------------------
// Block-level tile products.  A block of kThreads = 256 threads computes
//   S[r][c] = sum_t X[row0 + r][t] * Y[col0 + c][t],  r < BM, c < BN,
// for row-major X [nx, d] and Y [ny, d], streaming d in chunks of BK through shared memory.
// Out-of-range rows/columns/features are read as zero (so their S entries are 0; the epilogues
// mask them by index).  The finished tile lands in shared memory S[BM][BN + 4] for the epilogue.
// Every call ends with __syncthreads(), and starts by writing shared memory only after its first
// __syncthreads() -- callers must __syncthreads() between their epilogue reads and the next call.

constexpr int kThreads = 256;

// Plain FMA path (Acc = float or double; In = storage type).  Thread (ty, tx) of a 16 x 16 grid
// owns rows ty + 16 i and columns tx + 16 j of the tile.
template <typename In, typename Acc, int BM, int BN, int BK>
struct FmaTile {
  static_assert(BM % 16 == 0 && BN % 16 == 0, "tile must split over a 16 x 16 thread grid");
  static constexpr int kRows = BM, kCols = BN;
  static constexpr int TM = BM / 16;
  static constexpr int TN = BN / 16;
  static constexpr int kLdS = BN + 4;
  struct Smem {
    Acc a[BK][BM + 1];  // X chunk, transposed (k-major) so a row of the micro-tile is one word
    Acc b[BK][BN + 1];  // Y chunk, transposed
    Acc s[BM][kLdS];    // the finished tile
  };

  template <int R>
  static __device__ __forceinline__ void load_chunk(Acc (*dst)[R + 1], const In* __restrict__ src, int64_t nrows,
                                                    int64_t row0, int64_t d, int64_t k0) {
    // Consecutive threads read consecutive features of one row (coalesced), store transposed.
    for (int e = threadIdx.x; e < R * BK; e += kThreads) {
      const int r = e / BK, c = e % BK;
      const int64_t gr = row0 + r, gc = k0 + c;
      dst[c][r] = (gr < nrows && gc < d) ? to_acc<Acc>(src[gr * d + gc]) : Acc(0);
    }
  }

  static __device__ void compute(Smem& sm, const In* __restrict__ x, int64_t nx, int64_t row0,
                                 const In* __restrict__ y, int64_t ny, int64_t col0, int64_t d) {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    Acc acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = Acc(0);

    for (int64_t k0 = 0; k0 < d; k0 += BK) {
      __syncthreads();  // previous readers of sm.a / sm.b are done
      load_chunk<BM>(sm.a, x, nx, row0, d, k0);
      load_chunk<BN>(sm.b, y, ny, col0, d, k0);
      __syncthreads();
#pragma unroll 4
      for (int t = 0; t < BK; ++t) {
        Acc av[TM], bv[TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) av[i] = sm.a[t][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < TN; ++j) bv[j] = sm.b[t][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();  // (d == 0: the caller's previous epilogue is done with sm.s)
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) sm.s[ty + 16 * i][tx + 16 * j] = acc[i][j];
    __syncthreads();
  }
};

// Tensor-core path (In = __half or __nv_bfloat16, fp32 accumulation) through nvcuda::wmma
// 16 x 16 x 16 fragments.  64 x 64 tile, 8 warps: warp w owns the fragment row w / 2 and the two
// fragment columns 2 (w % 2) and 2 (w % 2) + 1.  Built for a GPU below sm_80 (no bf16 wmma), the
// same tile is computed with float32 FMA instead (compute_fma), so the file builds for any arch.
template <typename In>
struct WmmaTile {
  static constexpr int BM = 64, BN = 64, BK = 32;
  static constexpr int kRows = BM, kCols = BN;
  static constexpr int kLdA = BK + 8;  // 16-bit elements; multiple of 8 as wmma requires
  static constexpr int kLdS = BN + 4;  // floats; multiple of 4 as wmma requires
  struct Smem {
    alignas(32) In a[BM][kLdA];  // X chunk, row-major (matrix_a, row_major)
    alignas(32) In b[BN][kLdA];  // Y chunk, row-major = Y^T column-major (matrix_b, col_major)
    alignas(32) float s[BM][kLdS];
  };

  template <int R>
  static __device__ __forceinline__ void load_chunk(In (*dst)[kLdA], const In* __restrict__ src, int64_t nrows,
                                                    int64_t row0, int64_t d, int64_t k0) {
    for (int e = threadIdx.x; e < R * BK; e += kThreads) {
      const int r = e / BK, c = e % BK;
      const int64_t gr = row0 + r, gc = k0 + c;
      dst[r][c] = (gr < nrows && gc < d) ? src[gr * d + gc] : zero_of<In>();
    }
  }

  static __device__ void compute(Smem& sm, const In* __restrict__ x, int64_t nx, int64_t row0,
                                 const In* __restrict__ y, int64_t ny, int64_t col0, int64_t d) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    compute_fma(sm, x, nx, row0, y, ny, col0, d);  // no bf16 wmma before sm_80: same tile, FMA
#else
    compute_wmma(sm, x, nx, row0, y, ny, col0, d);
#endif
  }

  static __device__ void compute_wmma(Smem& sm, const In* __restrict__ x, int64_t nx, int64_t row0,
                                      const In* __restrict__ y, int64_t ny, int64_t col0, int64_t d) {
    namespace wmma = nvcuda::wmma;
    const int warp = threadIdx.x / kWarpSize;
    const int fr = warp / 2, fc0 = (warp % 2) * 2;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2];
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);

    for (int64_t k0 = 0; k0 < d; k0 += BK) {
      __syncthreads();
      load_chunk<BM>(sm.a, x, nx, row0, d, k0);
      load_chunk<BN>(sm.b, y, ny, col0, d, k0);
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, In, wmma::row_major> fa;
        wmma::load_matrix_sync(fa, &sm.a[fr * 16][kk], kLdA);
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          wmma::fragment<wmma::matrix_b, 16, 16, 16, In, wmma::col_major> fb;
          wmma::load_matrix_sync(fb, &sm.b[(fc0 + j) * 16][kk], kLdA);
          wmma::mma_sync(acc[j], fa, fb, acc[j]);
        }
      }
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(&sm.s[fr * 16][(fc0 + j) * 16], acc[j], kLdS, wmma::mem_row_major);
    }
    __syncthreads();
  }

  // Same tile with float32 FMA (thread (ty, tx) owns rows ty + 16 i, columns tx + 16 j).
  static __device__ void compute_fma(Smem& sm, const In* __restrict__ x, int64_t nx, int64_t row0,
                                     const In* __restrict__ y, int64_t ny, int64_t col0, int64_t d) {
    constexpr int TM = BM / 16, TN = BN / 16;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    for (int64_t k0 = 0; k0 < d; k0 += BK) {
      __syncthreads();
      load_chunk<BM>(sm.a, x, nx, row0, d, k0);
      load_chunk<BN>(sm.b, y, ny, col0, d, k0);
      __syncthreads();
      for (int t = 0; t < BK; ++t) {
        float av[TM], bv[TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) av[i] = to_acc<float>(sm.a[ty + 16 * i][t]);
#pragma unroll
        for (int j = 0; j < TN; ++j) bv[j] = to_acc<float>(sm.b[tx + 16 * j][t]);
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) sm.s[ty + 16 * i][tx + 16 * j] = acc[i][j];
    __syncthreads();
  }
};

}  // namespace cuda
}  // namespace psqe
