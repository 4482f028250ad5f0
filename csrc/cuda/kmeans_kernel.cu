// UNVERIFIED AT RUN TIME: compiles with nvcc 13.0 (sm_90); correctness and speed untested on a GPU (see tests/test_ops_cuda.py).
//
// CUDA kernels of psqe::kmeans_pp_init and psqe::kmeans_lloyd (semantics: csrc/ops.cpp).
//
// kmeans_pp_init: k sequential steps, all on the device (no host synchronisation):
//   update  D_i = min(D_i, ||x_i - x_c||^2)   one warp per row, float64 differences and sums
//   cum     = at::cumsum(D) (float64)
//   search  smallest i with cum_i > u_t * cum_{N-1} (min-reduction, no monotonicity assumed) and
//           largest i with D_i > 0 (max-reduction), into a 2-word device buffer
//   pick    one thread applies the rule of ops.cpp (total == 0 -> floor(u_t N)) and resets the buffer.
//   Difference from the CPU: the CPU sums D sequentially; a parallel scan rounds differently, so a
//   draw can differ only when u_t * total lies within a few ulps of a cumulative boundary.
// kmeans_lloyd, per iteration:
//   assign  tiled x . C^T (FmaTile, x's precision) with the argmin of ||C_c||^2 - 2 <x_i, C_c> fused
//           into the epilogue (ties: lowest c; a NaN score counts as +inf) -- no N x k matrix;
//   update  float64 sums per (cluster, feature) with atomicAdd, privatised in shared memory when
//           k * d fits; then one block per centroid: mean cast to x's dtype (empty cluster keeps its
//           centroid) and its squared shift; shift = max over centroids (one host sync per iteration
//           for the tol test).
//   The float64 atomics make the sums' last bits depend on scheduling (float32 centroids are
//   essentially always identical after the cast; float64 centroids may differ from the CPU in the
//   last bits).  inertia: per-row float64 distances, summed by at::sum (deterministic).
#include "../ops.h"
#include "common.cuh"

#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

namespace psqe {
namespace cuda {
namespace {

constexpr int kWarps = kThreads / kWarpSize;
constexpr int kAssignBM = 64;

// ------------------------------------------------------------------------------------------
// Warp reductions.

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ unsigned long long warp_min_u64(unsigned long long v) {
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o /= 2) {
    const unsigned long long w = __shfl_xor_sync(kFullMask, v, o);
    v = w < v ? w : v;
  }
  return v;
}
__device__ __forceinline__ unsigned long long warp_max_u64(unsigned long long v) {
#pragma unroll
  for (int o = kWarpSize / 2; o > 0; o /= 2) {
    const unsigned long long w = __shfl_xor_sync(kFullMask, v, o);
    v = w > v ? w : v;
  }
  return v;
}

// Squared distance of two rows in float64, reduced over the warp (all lanes get the result).
template <typename T>
__device__ __forceinline__ double warp_sq_dist(const T* __restrict__ a, const T* __restrict__ b, int64_t d, int lane) {
  double s = 0.0;
  for (int64_t j = lane; j < d; j += kWarpSize) {
    const double diff = static_cast<double>(a[j]) - static_cast<double>(b[j]);
    s = fma(diff, diff, s);
  }
  return warp_sum(s);
}

// ------------------------------------------------------------------------------------------
// k-means++ seeding.

__device__ __forceinline__ int64_t uniform_index(double u, int64_t N) {
  const int64_t i = static_cast<int64_t>(floor(u * static_cast<double>(N)));
  return i < 0 ? 0 : (i > N - 1 ? N - 1 : i);
}

// sel[0]: smallest i with cum_i > target (N = none); sel[1]: 1 + largest i with D_i > 0 (0 = none).
__global__ void pp_first_kernel(const double* __restrict__ u, int64_t N, int64_t* __restrict__ out,
                                unsigned long long* __restrict__ sel) {
  out[0] = uniform_index(u[0], N);
  sel[0] = static_cast<unsigned long long>(N);
  sel[1] = 0;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) pp_update_kernel(const T* __restrict__ x, int64_t N, int64_t d,
                                                            const int64_t* __restrict__ chosen,
                                                            double* __restrict__ D) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t c = *chosen;
  const T* xc = x + c * d;
  const int64_t n_warps = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize; i < N; i += n_warps) {
    const double dist = warp_sq_dist(x + i * d, xc, d, lane);
    if (lane == 0 && dist < D[i]) D[i] = dist;
  }
}

__global__ void __launch_bounds__(kThreads) pp_search_kernel(const double* __restrict__ cum,
                                                            const double* __restrict__ D,
                                                            const double* __restrict__ u_t, int64_t N,
                                                            unsigned long long* __restrict__ sel) {
  const double target = *u_t * cum[N - 1];
  unsigned long long first = static_cast<unsigned long long>(N), last = 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < N; i += stride) {
    if (cum[i] > target && static_cast<unsigned long long>(i) < first) first = static_cast<unsigned long long>(i);
    if (D[i] > 0.0) last = static_cast<unsigned long long>(i + 1);  // i increases along the loop
  }
  first = warp_min_u64(first);
  last = warp_max_u64(last);
  if (threadIdx.x % kWarpSize == 0) {
    if (first < static_cast<unsigned long long>(N)) atomicMin(&sel[0], first);
    if (last > 0) atomicMax(&sel[1], last);
  }
}

__global__ void pp_pick_kernel(const double* __restrict__ cum, const double* __restrict__ u_t, int64_t N,
                               unsigned long long* __restrict__ sel, int64_t* __restrict__ out_t) {
  const double total = cum[N - 1];
  int64_t c;
  if (!(total > 0.0)) {
    c = uniform_index(*u_t, N);
  } else if (sel[0] < static_cast<unsigned long long>(N)) {
    c = static_cast<int64_t>(sel[0]);
  } else {  // rounding: the target reached the total; the last row with D > 0
    c = sel[1] > 0 ? static_cast<int64_t>(sel[1]) - 1 : 0;
  }
  *out_t = c;
  sel[0] = static_cast<unsigned long long>(N);  // ready for the next step
  sel[1] = 0;
}

template <typename T>
void kmeans_pp_init_impl(const at::Tensor& x, const at::Tensor& u, at::Tensor& out) {
  const int64_t N = x.size(0), d = x.size(1), k = u.size(0);
  const int device = x.get_device();
  const auto stream = c10::cuda::getCurrentCUDAStream(device);
  const auto dopts = x.options().dtype(at::kDouble);
  at::Tensor D = at::full({N}, std::numeric_limits<double>::infinity(), dopts);
  at::Tensor cum = at::empty({N}, dopts);
  at::Tensor sel = at::empty({2}, x.options().dtype(at::kLong));
  auto* sel_p = reinterpret_cast<unsigned long long*>(sel.data_ptr<int64_t>());
  const T* xp = x.data_ptr<T>();
  const double* up = u.data_ptr<double>();
  int64_t* op = out.data_ptr<int64_t>();

  pp_first_kernel<<<1, 1, 0, stream>>>(up, N, op, sel_p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const unsigned update_blocks = grid_for(N, kWarps, device);
  const unsigned search_blocks = grid_for(N, kThreads, device, 4);
  for (int64_t t = 1; t < k; ++t) {
    pp_update_kernel<T><<<update_blocks, kThreads, 0, stream>>>(xp, N, d, op + (t - 1), D.data_ptr<double>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    at::cumsum_out(cum, D, 0);
    pp_search_kernel<<<search_blocks, kThreads, 0, stream>>>(cum.data_ptr<double>(), D.data_ptr<double>(), up + t,
                                                             N, sel_p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    pp_pick_kernel<<<1, 1, 0, stream>>>(cum.data_ptr<double>(), up + t, N, sel_p, op + t);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
}

at::Tensor kmeans_pp_init_cuda(const at::Tensor& x_in, const at::Tensor& uniforms_in) {
  check_kmeans_pp_init(x_in, uniforms_in);
  TORCH_CHECK(x_in.is_cuda(), "psqe: kmeans_pp_init (CUDA): x must be a CUDA tensor, got ", x_in.device());
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor u = uniforms_in.contiguous();
  at::Tensor out = at::empty({u.size(0)}, x.options().dtype(at::kLong));
  if (x.scalar_type() == at::kDouble) {
    kmeans_pp_init_impl<double>(x, u, out);
  } else {
    kmeans_pp_init_impl<float>(x, u, out);
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Lloyd.

template <typename T>
struct AssignTile {
  static constexpr int BN = std::is_same_v<T, double> ? 32 : 64;  // keeps shared memory < 48 KB
  using Tile = FmaTile<T, T, kAssignBM, BN, 16>;
};

// a_i = argmin_c (cn_c - 2 <x_i, C_c>), ties to the lowest c.  Block: 64 rows, all centroid tiles.
template <typename T>
__global__ void __launch_bounds__(kThreads) kmeans_assign_kernel(const T* __restrict__ x, int64_t N,
                                                                const T* __restrict__ C, int K, int64_t d,
                                                                const T* __restrict__ cn,
                                                                int64_t* __restrict__ assignment) {
  using Tile = typename AssignTile<T>::Tile;
  constexpr int BN = AssignTile<T>::BN;
  constexpr int kRowsPerWarp = kAssignBM / kWarps;
  __shared__ typename Tile::Smem sm;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kAssignBM;

  // Per lane: the best over the columns this lane has seen, for each of the warp's rows.
  T bv[kRowsPerWarp];
  int bi[kRowsPerWarp];
#pragma unroll
  for (int t = 0; t < kRowsPerWarp; ++t) {
    bv[t] = std::numeric_limits<T>::infinity();
    bi[t] = kNoIndex;
  }

  for (int c0 = 0; c0 < K; c0 += BN) {
    Tile::compute(sm, x, N, row0, C, K, c0, d);
#pragma unroll
    for (int t = 0; t < kRowsPerWarp; ++t) {
      const int r = warp * kRowsPerWarp + t;
#pragma unroll
      for (int c = lane; c < BN; c += kWarpSize) {
        const int gc = c0 + c;
        if (gc < K) {
          T s = cn[gc] - T(2) * sm.s[r][c];
          if (isnan(s)) s = std::numeric_limits<T>::infinity();
          if (s < bv[t] || (s == bv[t] && gc < bi[t])) {
            bv[t] = s;
            bi[t] = gc;
          }
        }
      }
    }
    __syncthreads();
  }

#pragma unroll
  for (int t = 0; t < kRowsPerWarp; ++t) {
    T v = bv[t];
    int i = bi[t];
#pragma unroll
    for (int o = kWarpSize / 2; o > 0; o /= 2) {
      const T ov = __shfl_xor_sync(kFullMask, v, o);
      const int oi = __shfl_xor_sync(kFullMask, i, o);
      if (ov < v || (ov == v && oi < i)) {
        v = ov;
        i = oi;
      }
    }
    const int64_t gr = row0 + warp * kRowsPerWarp + t;
    if (lane == 0 && gr < N) assignment[gr] = i;
  }
}

// sums[c, j] += x[i, j], counts[c] += 1 for c = a[i]; one warp per row.  With `privatize`, the
// block accumulates into shared memory (k * d doubles + k counters) and flushes once.
template <typename T>
__global__ void __launch_bounds__(kThreads) kmeans_accumulate_kernel(const T* __restrict__ x,
                                                                    const int64_t* __restrict__ a, int64_t N,
                                                                    int64_t d, int K, bool privatize,
                                                                    double* __restrict__ sums,
                                                                    unsigned long long* __restrict__ counts) {
  extern __shared__ double s_sums[];  // [K * d] then [K] counters
  unsigned long long* s_counts = reinterpret_cast<unsigned long long*>(s_sums + K * d);
  const int64_t kd = static_cast<int64_t>(K) * d;
  if (privatize) {
    for (int64_t e = threadIdx.x; e < kd; e += blockDim.x) s_sums[e] = 0.0;
    for (int e = threadIdx.x; e < K; e += blockDim.x) s_counts[e] = 0;
    __syncthreads();
  }
  double* sum_dst = privatize ? s_sums : sums;
  unsigned long long* cnt_dst = privatize ? s_counts : counts;

  const int lane = threadIdx.x % kWarpSize;
  const int64_t n_warps = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize; i < N; i += n_warps) {
    const int64_t c = a[i];
    const T* xi = x + i * d;
    double* dst = sum_dst + c * d;
    for (int64_t j = lane; j < d; j += kWarpSize) atomicAdd(dst + j, static_cast<double>(xi[j]));
    if (lane == 0) atomicAdd(cnt_dst + c, 1ull);
  }

  if (privatize) {
    __syncthreads();
    for (int64_t e = threadIdx.x; e < kd; e += blockDim.x) {
      if (s_sums[e] != 0.0) atomicAdd(sums + e, s_sums[e]);
    }
    for (int e = threadIdx.x; e < K; e += blockDim.x) {
      if (s_counts[e] != 0) atomicAdd(counts + e, s_counts[e]);
    }
  }
}

// One block per centroid: C_c = (T)(sums_c / n_c) unless n_c == 0; shift_c = ||C'_c - C_c||^2 (float64).
template <typename T>
__global__ void __launch_bounds__(kThreads) kmeans_update_kernel(const double* __restrict__ sums,
                                                                const unsigned long long* __restrict__ counts,
                                                                int64_t d, T* __restrict__ C,
                                                                double* __restrict__ shift) {
  __shared__ double partial[kWarps];
  const int64_t c = blockIdx.x;
  const unsigned long long n = counts[c];
  double s = 0.0;
  if (n > 0) {
    const double dn = static_cast<double>(n);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const T nv = static_cast<T>(sums[c * d + j] / dn);
      const double diff = static_cast<double>(nv) - static_cast<double>(C[c * d + j]);
      s = fma(diff, diff, s);
      C[c * d + j] = nv;
    }
  }
  s = warp_sum(s);
  if (threadIdx.x % kWarpSize == 0) partial[threadIdx.x / kWarpSize] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kWarps; ++w) total += partial[w];
    shift[c] = total;
  }
}

// dist[i] = ||x_i - C_{a_i}||^2 in float64; one warp per row.
template <typename T>
__global__ void __launch_bounds__(kThreads) kmeans_dist_kernel(const T* __restrict__ x, const T* __restrict__ C,
                                                              const int64_t* __restrict__ a, int64_t N,
                                                              int64_t d, double* __restrict__ dist) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t n_warps = static_cast<int64_t>(gridDim.x) * kWarps;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize; i < N; i += n_warps) {
    const double s = warp_sq_dist(x + i * d, C + a[i] * d, d, lane);
    if (lane == 0) dist[i] = s;
  }
}

template <typename T>
void assign(const at::Tensor& x, const at::Tensor& C, at::Tensor& assignment, cudaStream_t stream) {
  const int64_t N = x.size(0), d = x.size(1), K = C.size(0);
  const at::Tensor cn = C.mul(C).sum(1);  // ||C_c||^2 in x's precision, as on the CPU
  const unsigned blocks = static_cast<unsigned>(ceil_div(N, kAssignBM));
  kmeans_assign_kernel<T><<<blocks, kThreads, 0, stream>>>(x.data_ptr<T>(), N, C.data_ptr<T>(), static_cast<int>(K),
                                                           d, cn.data_ptr<T>(), assignment.data_ptr<int64_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
std::tuple<at::Tensor, at::Tensor, double> kmeans_lloyd_impl(const at::Tensor& x, const at::Tensor& C0, int64_t iters,
                                                             double tol) {
  const int64_t N = x.size(0), d = x.size(1), K = C0.size(0);
  const int device = x.get_device();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device).stream();
  at::Tensor C = C0.clone();
  at::Tensor assignment = at::empty({N}, x.options().dtype(at::kLong));
  at::Tensor sums = at::empty({K, d}, x.options().dtype(at::kDouble));
  at::Tensor counts = at::empty({K}, x.options().dtype(at::kLong));
  at::Tensor shift = at::empty({K}, x.options().dtype(at::kDouble));

  constexpr int64_t kSmemLimit = 48 * 1024;
  const int64_t priv_bytes = (K * d + K) * static_cast<int64_t>(sizeof(double));
  const bool privatize = priv_bytes <= kSmemLimit;
  const unsigned acc_blocks = grid_for(N, kWarps, device, privatize ? 2 : 8);

  for (int64_t it = 0; it < iters; ++it) {
    assign<T>(x, C, assignment, stream);
    sums.zero_();
    counts.zero_();
    kmeans_accumulate_kernel<T><<<acc_blocks, kThreads, privatize ? priv_bytes : 0, stream>>>(
        x.data_ptr<T>(), assignment.data_ptr<int64_t>(), N, d, static_cast<int>(K), privatize,
        sums.data_ptr<double>(), reinterpret_cast<unsigned long long*>(counts.data_ptr<int64_t>()));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    kmeans_update_kernel<T><<<static_cast<unsigned>(K), kThreads, 0, stream>>>(
        sums.data_ptr<double>(), reinterpret_cast<const unsigned long long*>(counts.data_ptr<int64_t>()), d,
        C.data_ptr<T>(), shift.data_ptr<double>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (shift.max().item<double>() <= tol) break;
  }

  assign<T>(x, C, assignment, stream);
  at::Tensor dist = at::empty({N}, x.options().dtype(at::kDouble));
  kmeans_dist_kernel<T><<<grid_for(N, kWarps, device), kThreads, 0, stream>>>(
      x.data_ptr<T>(), C.data_ptr<T>(), assignment.data_ptr<int64_t>(), N, d, dist.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const double inertia = dist.sum().item<double>();
  return {C, assignment, inertia};
}

std::tuple<at::Tensor, at::Tensor, double> kmeans_lloyd_cuda(const at::Tensor& x_in, const at::Tensor& centroids,
                                                             int64_t iters, double tol) {
  check_kmeans_lloyd(x_in, centroids, iters);
  TORCH_CHECK(x_in.is_cuda(), "psqe: kmeans_lloyd (CUDA): x must be a CUDA tensor, got ", x_in.device());
  TORCH_CHECK(centroids.size(0) < std::numeric_limits<int>::max(), "psqe: kmeans_lloyd: too many centroids");
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor C0 = centroids.contiguous();
  if (x.scalar_type() == at::kDouble) return kmeans_lloyd_impl<double>(x, C0, iters, tol);
  return kmeans_lloyd_impl<float>(x, C0, iters, tol);
}

}  // namespace
}  // namespace cuda
}  // namespace psqe

TORCH_LIBRARY_IMPL(psqe, CUDA, m) {
  m.impl("kmeans_pp_init", &psqe::cuda::kmeans_pp_init_cuda);
  m.impl("kmeans_lloyd", &psqe::cuda::kmeans_lloyd_cuda);
}
