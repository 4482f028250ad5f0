// Schemas of the psqe op library (torch.ops.psqe.*) and the argument checks shared by all backends.
//
// Kernels live in csrc/cpu/<op>_kernel.cpp (TORCH_LIBRARY_IMPL(psqe, CPU, m)) and
// csrc/cuda/<op>_kernel.cu (TORCH_LIBRARY_IMPL(psqe, CUDA, m)); each calls the check_* function
// of its op (ops.h) first.  Semantics (all backends):
//
// sim_topk(x[N,d], y[M,d], k, tile_rows, tile_cols, col_best)
//     -> (values[N,kk], indices[N,kk], col_values[M], col_indices[M])
//   kk = min(k, M).  Row i lists the kk largest inner products <x_i, y_j>, sorted by value
//   descending, ties by j ascending.  values have x's dtype (float16/bfloat16 are computed in
//   float32 and cast back); indices are int64.  When col_best, col_values[j]/col_indices[j] are
//   max_i <x_i, y_j> and its argmax i (ties: lowest i; -inf and -1 when N == 0); otherwise both are
//   empty tensors of x's dtype and int64.  tile_rows/tile_cols <= 0 select the kernel's defaults;
//   at most one tile_rows x tile_cols score tile per worker is ever held (never N x M).
//
// kmeans_pp_init(x[N,d], uniforms[k] float64) -> centroid_index[k] int64
//   k-means++ seeding driven by caller-supplied uniforms u_t in [0, 1):
//     c_0 = min(floor(u_0 * N), N - 1)
//     D_i = min over chosen c of ||x_i - x_c||^2  (differences and sums in float64)
//     cum_i = D_0 + ... + D_i (float64, in index order); total = cum_{N-1}
//     c_t = the smallest i with cum_i > u_t * total; if none (rounding), the largest i with D_i > 0;
//           if total == 0, min(floor(u_t * N), N - 1).
//
// kmeans_lloyd(x[N,d], centroids[k,d], iters, tol) -> (centroids[k,d], assignment[N] int64, inertia)
//   C = centroids
//   repeat iters times:
//     a_i = argmin_c (||C_c||^2 - 2 <x_i, C_c>)   (x's precision; ties: lowest c)
//     C'_c = mean of the x_i with a_i == c (sums in float64, cast to x's dtype); C'_c = C_c if empty
//     shift = max_c sum_j (C'_cj - C_cj)^2 (float64);  C = C'
//     stop if shift <= tol
//   a = assignment against the final C (same rule); inertia = sum_i ||x_i - C_{a_i}||^2 (float64).
//
// greedy_match(row[L] int64, col[L] int64, score[L], limit) -> selected[S] int64
//   Walk candidates by score descending (stable: ties keep input order), accept candidate p when
//   neither row[p] nor col[p] was accepted before; stop after `limit` acceptances (limit < 0: no
//   limit).  Returns the positions p of the accepted candidates in acceptance order.
//
// greedy_match_grouped(row[L], col[L], score[L], group[L] int64, group_limit[G] int64, limit) -> selected
//   greedy_match where candidate p is also refused (without taking its row or column) once its group
//   group[p] has accepted group_limit[group[p]] candidates (a negative group_limit: no limit).
//   CPU kernel only; the Python wrapper routes other devices through the CPU.
#include "ops.h"

#include <torch/library.h>

namespace psqe {

namespace {

void check_float_2d(const at::Tensor& t, const char* name, bool allow_half) {
  TORCH_CHECK(t.dim() == 2, "psqe: ", name, " must be a 2-D tensor [rows, dim], got ", t.dim(),
              "-D with shape ", t.sizes());
  const auto st = t.scalar_type();
  const bool ok = st == at::kFloat || st == at::kDouble ||
                  (allow_half && (st == at::kHalf || st == at::kBFloat16));
  TORCH_CHECK(ok, "psqe: ", name, " must be a floating tensor (",
              allow_half ? "float16, bfloat16, float32 or float64" : "float32 or float64", "), got ",
              st);
}

}  // namespace

void check_sim_topk(const at::Tensor& x, const at::Tensor& y, int64_t k) {
  check_float_2d(x, "sim_topk: x", true);
  check_float_2d(y, "sim_topk: y", true);
  TORCH_CHECK(x.scalar_type() == y.scalar_type(), "psqe: sim_topk: x and y must have the same dtype, got ",
              x.scalar_type(), " and ", y.scalar_type());
  TORCH_CHECK(x.size(1) == y.size(1), "psqe: sim_topk: x and y must have the same feature dimension d, got x ",
              x.sizes(), " and y ", y.sizes());
  TORCH_CHECK(x.device() == y.device(), "psqe: sim_topk: x and y must be on the same device, got ",
              x.device(), " and ", y.device());
  TORCH_CHECK(k >= 1, "psqe: sim_topk: k must be >= 1, got ", k);
}

void check_kmeans_pp_init(const at::Tensor& x, const at::Tensor& uniforms) {
  check_float_2d(x, "kmeans_pp_init: x", false);
  TORCH_CHECK(x.size(0) >= 1, "psqe: kmeans_pp_init: x must have at least one row");
  TORCH_CHECK(uniforms.dim() == 1, "psqe: kmeans_pp_init: uniforms must be 1-D [k], got shape ",
              uniforms.sizes());
  TORCH_CHECK(uniforms.scalar_type() == at::kDouble, "psqe: kmeans_pp_init: uniforms must be float64, got ",
              uniforms.scalar_type());
  TORCH_CHECK(uniforms.device() == x.device(), "psqe: kmeans_pp_init: uniforms must be on x's device (",
              x.device(), "), got ", uniforms.device());
  const int64_t k = uniforms.size(0);
  TORCH_CHECK(k >= 1, "psqe: kmeans_pp_init: k = uniforms.size(0) must be >= 1");
  TORCH_CHECK(k <= x.size(0), "psqe: kmeans_pp_init: k = ", k, " clusters exceeds the number of rows of x (",
              x.size(0), ")");
}

void check_kmeans_lloyd(const at::Tensor& x, const at::Tensor& centroids, int64_t iters) {
  check_float_2d(x, "kmeans_lloyd: x", false);
  check_float_2d(centroids, "kmeans_lloyd: centroids", false);
  TORCH_CHECK(x.size(0) >= 1, "psqe: kmeans_lloyd: x must have at least one row");
  TORCH_CHECK(centroids.size(0) >= 1, "psqe: kmeans_lloyd: centroids must have at least one row");
  TORCH_CHECK(x.scalar_type() == centroids.scalar_type(),
              "psqe: kmeans_lloyd: centroids must have x's dtype (", x.scalar_type(), "), got ",
              centroids.scalar_type());
  TORCH_CHECK(x.size(1) == centroids.size(1),
              "psqe: kmeans_lloyd: x and centroids must have the same feature dimension d, got x ", x.sizes(),
              " and centroids ", centroids.sizes());
  TORCH_CHECK(x.device() == centroids.device(), "psqe: kmeans_lloyd: x and centroids must be on the same device, got ",
              x.device(), " and ", centroids.device());
  TORCH_CHECK(iters >= 0, "psqe: kmeans_lloyd: iters must be >= 0, got ", iters);
}

void check_greedy_match(const at::Tensor& row, const at::Tensor& col, const at::Tensor& score) {
  TORCH_CHECK(row.dim() == 1, "psqe: greedy_match: row must be 1-D, got shape ", row.sizes());
  TORCH_CHECK(col.dim() == 1, "psqe: greedy_match: col must be 1-D, got shape ", col.sizes());
  TORCH_CHECK(score.dim() == 1, "psqe: greedy_match: score must be 1-D, got shape ", score.sizes());
  TORCH_CHECK(row.scalar_type() == at::kLong, "psqe: greedy_match: row must be int64, got ", row.scalar_type());
  TORCH_CHECK(col.scalar_type() == at::kLong, "psqe: greedy_match: col must be int64, got ", col.scalar_type());
  TORCH_CHECK(at::isFloatingType(score.scalar_type()), "psqe: greedy_match: score must be floating, got ",
              score.scalar_type());
  TORCH_CHECK(row.size(0) == col.size(0) && row.size(0) == score.size(0),
              "psqe: greedy_match: row, col and score must have the same length, got ", row.size(0), ", ",
              col.size(0), " and ", score.size(0));
  TORCH_CHECK(row.device() == col.device() && row.device() == score.device(),
              "psqe: greedy_match: row, col and score must be on the same device, got ", row.device(), ", ",
              col.device(), " and ", score.device());
}

void check_greedy_match_grouped(const at::Tensor& row, const at::Tensor& col, const at::Tensor& score,
                                const at::Tensor& group, const at::Tensor& group_limit) {
  check_greedy_match(row, col, score);
  TORCH_CHECK(group.dim() == 1 && group.size(0) == row.size(0),
              "psqe: greedy_match_grouped: group must be 1-D with one entry per candidate (", row.size(0),
              "), got shape ", group.sizes());
  TORCH_CHECK(group.scalar_type() == at::kLong, "psqe: greedy_match_grouped: group must be int64, got ",
              group.scalar_type());
  TORCH_CHECK(group_limit.dim() == 1, "psqe: greedy_match_grouped: group_limit must be 1-D [num_groups], got shape ",
              group_limit.sizes());
  TORCH_CHECK(group_limit.scalar_type() == at::kLong, "psqe: greedy_match_grouped: group_limit must be int64, got ",
              group_limit.scalar_type());
  TORCH_CHECK(group.device() == row.device() && group_limit.device() == row.device(),
              "psqe: greedy_match_grouped: group and group_limit must be on row's device (", row.device(), ")");
}

bool with_cuda() {
#ifdef PSQE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace psqe

TORCH_LIBRARY(psqe, m) {
  m.def("with_cuda() -> bool", &psqe::with_cuda);
  m.def(
      "sim_topk(Tensor x, Tensor y, int k, int tile_rows, int tile_cols, bool col_best) -> "
      "(Tensor values, Tensor indices, Tensor col_values, Tensor col_indices)");
  m.def("kmeans_pp_init(Tensor x, Tensor uniforms) -> Tensor centroid_index");
  m.def("kmeans_lloyd(Tensor x, Tensor centroids, int iters, float tol) -> "
        "(Tensor centroids, Tensor assignment, float inertia)");
  m.def("greedy_match(Tensor row, Tensor col, Tensor score, int limit) -> Tensor");
  m.def("greedy_match_grouped(Tensor row, Tensor col, Tensor score, Tensor group, Tensor group_limit, "
        "int limit) -> Tensor");
}
