// Shared declarations of the psqe op library: argument checks (defined in ops.cpp) that every
// backend kernel (csrc/cpu/*.cpp, csrc/cuda/*.cu) calls first, so all devices reject the same inputs
// with the same messages.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <tuple>

namespace psqe {

// Tile sizes used when the caller passes tile_rows/tile_cols <= 0.
constexpr int64_t kDefaultTileRows = 256;
constexpr int64_t kDefaultTileCols = 2048;

// sim_topk(x[N,d], y[M,d], k, tile_rows, tile_cols, col_best)
//   x, y: 2-D, same floating dtype (float16/bfloat16/float32/float64), same d, same device; k >= 1.
void check_sim_topk(const at::Tensor& x, const at::Tensor& y, int64_t k);

// kmeans_pp_init(x[N,d], uniforms[k])
//   x: 2-D float32/float64 with N >= 1; uniforms: 1-D float64 on x's device, 1 <= k <= N.
void check_kmeans_pp_init(const at::Tensor& x, const at::Tensor& uniforms);

// kmeans_lloyd(x[N,d], centroids[k,d], iters, tol)
//   x: 2-D float32/float64 with N >= 1; centroids: 2-D, x's dtype/device, k >= 1, same d; iters >= 0.
void check_kmeans_lloyd(const at::Tensor& x, const at::Tensor& centroids, int64_t iters);

// greedy_match(row[L], col[L], score[L], limit)
//   row, col: 1-D int64 (values >= 0, checked by the kernels); score: 1-D floating; same length, same device.
void check_greedy_match(const at::Tensor& row, const at::Tensor& col, const at::Tensor& score);

// greedy_match_grouped(row[L], col[L], score[L], group[L], group_limit[G], limit)
//   as greedy_match, plus group: 1-D int64 of length L (values in [0, G), checked by the kernels) and
//   group_limit: 1-D int64 [G]; all on one device.
void check_greedy_match_grouped(const at::Tensor& row, const at::Tensor& col, const at::Tensor& score,
                                const at::Tensor& group, const at::Tensor& group_limit);

}  // namespace psqe
