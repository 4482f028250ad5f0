// UNVERIFIED AT RUN TIME: compiles with nvcc 13.0 (sm_90); correctness and speed untested on a GPU (see tests/test_ops_cuda.py).
//
// CUDA kernel of psqe::sim_topk (semantics: csrc/ops.cpp).
//
// Fused path (float32 / float16 / bfloat16 inputs, kk = min(k, M) <= kMaxK = 32):
//   grid (row strips of 64 rows) x (column splits).  A block owns 64 rows of x and walks its
//   split's 64-column tiles of y in order.  Per tile it computes the 64 x 64 score tile into shared
//   memory (float32 FMA for float32 inputs -- no TF32, so scores match the CPU to fp32 rounding;
//   WMMA tensor cores with float32 accumulation for float16 / bfloat16) and, in the epilogue,
//     - folds each row's 64 scores into a top-kk list held in registers, one warp per row
//       (warp_topk_offer: only scores that beat the current kk-th entry cost anything);
//     - reduces each column over the block's rows and atomicMax'es a packed key
//       (order_bits(value) << 32 | ~row) into col_key[M], so ties pick the lower row.
//   The N x M score matrix never reaches global memory.  With one split the blocks write the
//   outputs directly; with several, each block writes its per-row lists to a [splits, N, kk]
//   scratch and a merge kernel (one warp per row) combines them.  Column splits only exist to fill
//   the GPU when N is small (splits * N stays below about 4 * SMs * 64 + N).
// Unfused path (float64 inputs, or kk > 32): tiles of tile_rows x tile_cols scores through
//   at::mm (cuBLAS), merged into a running per-row list by a stable descending sort of
//   [list | tile] (the list holds lower column indices, so stability = ties to the lower index);
//   column best per tile by amax + lowest row achieving it.  Correct by construction, not fast.
// NaN scores rank as -inf and are reported as -inf (the CPU kernel leaves NaN ordering undefined).
// tile_rows / tile_cols only shape the unfused path; the fused path uses fixed 64 x 64 tiles.
#include "../ops.h"
#include "common.cuh"

#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <tuple>

namespace psqe {
namespace cuda {
namespace {

constexpr int kMaxK = 32;
constexpr int kBM = 64, kBN = 64;
constexpr int kWarps = kThreads / kWarpSize;     // 8
constexpr int kRowsPerWarp = kBM / kWarps;       // 8
constexpr int64_t kUnfusedTileRows = 1024;       // defaults of the unfused path
constexpr int64_t kUnfusedTileCols = 8192;

template <typename In>
using TileFor = std::conditional_t<std::is_same_v<In, float>, FmaTile<float, float, kBM, kBN, 16>, WmmaTile<In>>;

template <typename In>
__global__ void __launch_bounds__(kThreads) sim_topk_fused_kernel(
    const In* __restrict__ x, const In* __restrict__ y, int N, int M, int d, int kk, int n_col_tiles,
    int tiles_per_split, float* __restrict__ part_v, int* __restrict__ part_i, In* __restrict__ values,
    int64_t* __restrict__ indices, unsigned long long* __restrict__ col_key) {
  using Tile = TileFor<In>;
  static_assert(Tile::kRows == kBM && Tile::kCols == kBN, "epilogue assumes 64 x 64 tiles");
  __shared__ typename Tile::Smem sm;
  __shared__ unsigned long long col_part[kThreads / kBN][kBN];

  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kBM;
  const int split = blockIdx.y;
  const int tile_begin = split * tiles_per_split;
  const int tile_end = min(tile_begin + tiles_per_split, n_col_tiles);

  // Row lists in shared memory: list_*[r][l] is entry l of row r's top-kk (sorted by `better`);
  // warp w alone reads and writes rows w * 8 .. w * 8 + 7, lane l entry l.
  __shared__ float list_v[kBM][kMaxK];
  __shared__ int list_i[kBM][kMaxK];
  for (int e = threadIdx.x; e < kBM * kMaxK; e += kThreads) {
    list_v[e / kMaxK][e % kMaxK] = -std::numeric_limits<float>::infinity();
    list_i[e / kMaxK][e % kMaxK] = kNoIndex;
  }
  __syncthreads();

  for (int tile = tile_begin; tile < tile_end; ++tile) {
    const int64_t col0 = static_cast<int64_t>(tile) * kBN;
    Tile::compute(sm, x, N, row0, y, M, col0, d);

    // Row side.
#pragma unroll 1
    for (int t = 0; t < kRowsPerWarp; ++t) {
      const int r = warp * kRowsPerWarp + t;
      if (row0 + r < N) {  // warp-uniform
        float lv = list_v[r][lane];
        int li = list_i[r][lane];
#pragma unroll
        for (int h = 0; h < kBN / kWarpSize; ++h) {
          const int c = h * kWarpSize + lane;
          const bool valid = col0 + c < M;
          const float v = nan_to_neg_inf(sm.s[r][c]);
          warp_topk_offer(v, static_cast<int>(col0 + c), valid, lv, li, kk, lane);
        }
        list_v[r][lane] = lv;
        list_i[r][lane] = li;
      }
    }

    // Column side: thread (part, c) scans rows part * 16 .. part * 16 + 15 of column c.
    if (col_key != nullptr) {
      const int c = threadIdx.x % kBN, part = threadIdx.x / kBN;
      constexpr int kRowsPerPart = kBM / (kThreads / kBN);
      unsigned long long best = 0;
      for (int rr = 0; rr < kRowsPerPart; ++rr) {
        const int r = part * kRowsPerPart + rr;
        if (row0 + r < N) {
          const unsigned long long key = pack_col_key(nan_to_neg_inf(sm.s[r][c]), static_cast<uint32_t>(row0 + r));
          best = key > best ? key : best;
        }
      }
      col_part[part][c] = best;
      __syncthreads();
      if (threadIdx.x < kBN && col0 + threadIdx.x < M) {
        unsigned long long b = col_part[0][threadIdx.x];
#pragma unroll
        for (int p = 1; p < kThreads / kBN; ++p) b = col_part[p][threadIdx.x] > b ? col_part[p][threadIdx.x] : b;
        unsigned long long* slot = col_key + col0 + threadIdx.x;
        if (b > *reinterpret_cast<volatile unsigned long long*>(slot)) atomicMax(slot, b);
      }
    }
    __syncthreads();  // epilogue reads of sm.s / col_part are done before the next tile
  }

  // One split: the lists are final (values cast to x's dtype).  Several: partial lists -> scratch
  // [splits, N, kk] for the merge kernel.  (Each warp reads back only its own rows.)
  for (int t = 0; t < kRowsPerWarp; ++t) {
    const int r = warp * kRowsPerWarp + t;
    if (row0 + r < N && lane < kk) {
      if (gridDim.y == 1) {
        const int64_t o = (row0 + r) * kk + lane;
        values[o] = from_float<In>(list_v[r][lane]);
        indices[o] = list_i[r][lane];
      } else {
        const int64_t o = (static_cast<int64_t>(split) * N + row0 + r) * kk + lane;
        part_v[o] = list_v[r][lane];
        part_i[o] = list_i[r][lane];
      }
    }
  }
}

// One warp per row: merge the splits' sorted lists into the final top-kk and cast to Out.
template <typename Out>
__global__ void __launch_bounds__(kThreads) sim_topk_merge_kernel(
    const float* __restrict__ part_v, const int* __restrict__ part_i, int N, int kk, int splits,
    Out* __restrict__ values, int64_t* __restrict__ indices) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (row >= N) return;  // warp-uniform
  float lv = -std::numeric_limits<float>::infinity();
  int li = kNoIndex;
  for (int s = 0; s < splits; ++s) {
    const int64_t o = (static_cast<int64_t>(s) * N + row) * kk + lane;
    const bool in = lane < kk;
    const float v = in ? part_v[o] : 0.0f;
    const int i = in ? part_i[o] : kNoIndex;
    warp_topk_offer(v, i, in && i != kNoIndex, lv, li, kk, lane);
  }
  if (lane < kk) {
    values[row * kk + lane] = from_float<Out>(lv);
    indices[row * kk + lane] = li;
  }
}

template <typename Out>
__global__ void col_best_decode_kernel(const unsigned long long* __restrict__ col_key, int M,
                                       Out* __restrict__ col_v, int64_t* __restrict__ col_i) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < M;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const unsigned long long key = col_key[j];
    if (key == 0) {  // no row (only when N == 0, handled on the host; kept for safety)
      col_v[j] = from_float<Out>(-std::numeric_limits<float>::infinity());
      col_i[j] = -1;
    } else {
      col_v[j] = from_float<Out>(from_order_bits(static_cast<uint32_t>(key >> 32)));
      col_i[j] = static_cast<int64_t>(~static_cast<uint32_t>(key & 0xffffffffu));
    }
  }
}

// Storage type of a floating tensor as seen by device code.
template <typename F>
void dispatch_fused_dtype(at::ScalarType st, F&& f) {
  switch (st) {
    case at::kFloat: f(float{}); break;
    case at::kHalf: f(__half{}); break;
    case at::kBFloat16: f(__nv_bfloat16{}); break;
    default: TORCH_CHECK(false, "psqe: sim_topk (CUDA fused path): unsupported dtype ", st);
  }
}

void sim_topk_fused(const at::Tensor& x, const at::Tensor& y, int64_t kk, bool col_best, at::Tensor& values,
                    at::Tensor& indices, at::Tensor& col_values, at::Tensor& col_indices) {
  const int64_t N = x.size(0), M = y.size(0), d = x.size(1);
  const int device = x.get_device();
  const auto stream = c10::cuda::getCurrentCUDAStream(device);

  const int64_t row_strips = ceil_div(N, kBM);
  const int64_t col_tiles = ceil_div(M, kBN);
  // Split the column tiles so that about 4 blocks per SM exist even when N is small.
  const int64_t want_blocks = 4 * static_cast<int64_t>(sm_count(device));
  int64_t splits = std::min<int64_t>(std::max<int64_t>(1, ceil_div(want_blocks, row_strips)), col_tiles);
  splits = std::min<int64_t>(splits, 65535);
  const int64_t tiles_per_split = ceil_div(col_tiles, splits);
  splits = ceil_div(col_tiles, tiles_per_split);  // no empty split
  TORCH_CHECK(row_strips <= std::numeric_limits<int>::max(), "psqe: sim_topk: too many rows");

  // Scratch for the splits' partial lists (none with a single split: the kernel writes the outputs).
  const int64_t scratch = splits > 1 ? splits * N * kk : 0;
  at::Tensor part_v = at::empty({scratch}, x.options().dtype(at::kFloat));
  at::Tensor part_i = at::empty({scratch}, x.options().dtype(at::kInt));
  at::Tensor col_key;
  if (col_best) col_key = at::zeros({M}, x.options().dtype(at::kLong));  // 0 = "no row yet"
  unsigned long long* col_key_ptr =
      col_best ? reinterpret_cast<unsigned long long*>(col_key.data_ptr<int64_t>()) : nullptr;

  dispatch_fused_dtype(x.scalar_type(), [&](auto tag) {
    using In = decltype(tag);
    const In* xp = reinterpret_cast<const In*>(x.data_ptr());
    const In* yp = reinterpret_cast<const In*>(y.data_ptr());
    In* vp = reinterpret_cast<In*>(values.data_ptr());

    const dim3 grid(static_cast<unsigned>(row_strips), static_cast<unsigned>(splits));
    sim_topk_fused_kernel<In><<<grid, kThreads, 0, stream>>>(
        xp, yp, static_cast<int>(N), static_cast<int>(M), static_cast<int>(d), static_cast<int>(kk),
        static_cast<int>(col_tiles), static_cast<int>(tiles_per_split), part_v.data_ptr<float>(),
        part_i.data_ptr<int>(), vp, indices.data_ptr<int64_t>(), col_key_ptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();

    if (splits > 1) {
      const unsigned merge_blocks = static_cast<unsigned>(ceil_div(N, kWarps));
      sim_topk_merge_kernel<In><<<merge_blocks, kThreads, 0, stream>>>(
          part_v.data_ptr<float>(), part_i.data_ptr<int>(), static_cast<int>(N), static_cast<int>(kk),
          static_cast<int>(splits), vp, indices.data_ptr<int64_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }

    if (col_best) {
      col_best_decode_kernel<In><<<grid_for(M, 256, device), 256, 0, stream>>>(
          col_key_ptr, static_cast<int>(M), reinterpret_cast<In*>(col_values.data_ptr()),
          col_indices.data_ptr<int64_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
}

// Unfused path: ATen ops only (cuBLAS product per tile + stable sort merge).
void sim_topk_unfused(const at::Tensor& x, const at::Tensor& y, int64_t kk, int64_t tile_rows, int64_t tile_cols,
                      bool col_best, at::Tensor& values, at::Tensor& indices, at::Tensor& col_values,
                      at::Tensor& col_indices) {
  const int64_t N = x.size(0), M = y.size(0);
  const auto acc = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto aopts = x.options().dtype(acc);
  const auto lopts = x.options().dtype(at::kLong);
  const double neg_inf = -std::numeric_limits<double>::infinity();
  const int64_t TR = tile_rows > 0 ? tile_rows : kUnfusedTileRows;
  const int64_t TC = tile_cols > 0 ? tile_cols : kUnfusedTileCols;

  at::Tensor cv_acc, ci_acc;
  if (col_best) {
    cv_acc = at::full({M}, neg_inf, aopts);
    ci_acc = at::full({M}, -1, lopts);
  }
  for (int64_t r0 = 0; r0 < N; r0 += TR) {
    const int64_t R = std::min(TR, N - r0);
    const at::Tensor xt = x.narrow(0, r0, R).to(acc);
    const at::Tensor row_ids = at::arange(r0, r0 + R, lopts).unsqueeze(1);  // [R, 1]
    at::Tensor bv = at::empty({R, 0}, aopts), bi = at::empty({R, 0}, lopts);
    for (int64_t c0 = 0; c0 < M; c0 += TC) {
      const int64_t C = std::min(TC, M - c0);
      at::Tensor s = at::mm(xt, y.narrow(0, c0, C).to(acc).t());  // [R, C]
      s.masked_fill_(s.isnan(), neg_inf);
      if (col_best) {
        const at::Tensor m = s.amax(0);  // [C]
        const at::Tensor arg =
            at::where(s == m.unsqueeze(0), row_ids, std::numeric_limits<int64_t>::max()).amin(0);
        at::Tensor cv = cv_acc.narrow(0, c0, C), ci = ci_acc.narrow(0, c0, C);
        // Row tiles arrive in increasing order: strict '>' keeps ties on the earlier (lower) row.
        const at::Tensor upd = (m > cv).logical_or_(ci < 0);
        cv.copy_(at::where(upd, m, cv));
        ci.copy_(at::where(upd, arg, ci));
      }
      const at::Tensor cols = at::arange(c0, c0 + C, lopts).unsqueeze(0).expand({R, C});
      const at::Tensor cat_v = at::cat({bv, s}, 1), cat_i = at::cat({bi, cols}, 1);
      // Stable descending sort: equal values keep [list | tile] order = ascending column index.
      const auto sorted = at::sort(cat_v, /*stable=*/true, /*dim=*/1, /*descending=*/true);
      const int64_t take = std::min<int64_t>(kk, cat_v.size(1));
      bv = std::get<0>(sorted).narrow(1, 0, take).contiguous();
      bi = cat_i.gather(1, std::get<1>(sorted).narrow(1, 0, take));
    }
    values.narrow(0, r0, R).copy_(bv);
    indices.narrow(0, r0, R).copy_(bi);
  }
  if (col_best) {
    col_values.copy_(cv_acc);
    col_indices.copy_(ci_acc);
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> sim_topk_cuda(const at::Tensor& x_in,
                                                                         const at::Tensor& y_in, int64_t k,
                                                                         int64_t tile_rows, int64_t tile_cols,
                                                                         bool col_best) {
  check_sim_topk(x_in, y_in, k);
  TORCH_CHECK(x_in.is_cuda(), "psqe: sim_topk (CUDA): x must be a CUDA tensor, got ", x_in.device());
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor y = y_in.contiguous();
  const int64_t N = x.size(0), M = y.size(0), d = x.size(1);
  const int64_t kk = std::min(k, M);
  const auto idx_opts = x.options().dtype(at::kLong);
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();

  at::Tensor values = at::empty({N, kk}, x.options());
  at::Tensor indices = at::empty({N, kk}, idx_opts);
  at::Tensor col_values = at::empty({col_best ? M : 0}, x.options());
  at::Tensor col_indices = at::empty({col_best ? M : 0}, idx_opts);
  if (N == 0 || M == 0) {
    if (col_best) {
      col_values.fill_(-std::numeric_limits<double>::infinity());
      col_indices.fill_(-1);
    }
    return {values, indices, col_values, col_indices};
  }

  const bool fused = kk <= kMaxK && x.scalar_type() != at::kDouble && N < kIntMax && M < kIntMax - kBN &&
                     d < kIntMax;
  if (fused) {
    sim_topk_fused(x, y, kk, col_best, values, indices, col_values, col_indices);
  } else {
    sim_topk_unfused(x, y, kk, tile_rows, tile_cols, col_best, values, indices, col_values, col_indices);
  }
  return {values, indices, col_values, col_indices};
}

}  // namespace
}  // namespace cuda
}  // namespace psqe

TORCH_LIBRARY_IMPL(psqe, CUDA, m) {
  m.impl("sim_topk", &psqe::cuda::sim_topk_cuda);
}
