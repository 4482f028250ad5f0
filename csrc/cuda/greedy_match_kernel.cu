// UNVERIFIED AT RUN TIME: compiles with nvcc 13.0 (sm_90); correctness and speed untested on a GPU (see tests/test_ops_cuda.py).
//
// CUDA kernel of psqe::greedy_match (semantics: csrc/ops.cpp): the sequential greedy walk, computed
// in parallel rounds.
//
// Rank: q = position of a candidate in the stable descending sort of the scores (at::sort, stable),
// so "walk by score descending, ties by position" is "walk by q ascending", and every comparison
// below is on distinct integers.  Let S be the set the (unlimited) sequential walk accepts.
//
// Round: among the alive candidates (both ends free), each row keeps its lowest-q candidate
// (atomicMin), each column likewise; a candidate that is the lowest of its row AND of its column is
// accepted; then candidates touching a taken row or column die.  Repeat until none is alive.
//
// Why the accepted set A equals S (invariant: A is a subset of S; alive = both ends untouched by A):
//  * q mutually lowest => q in S.  If q were rejected by the walk, some p < q in S shares q's row
//    (or column).  p is not in A (q would be dead).  p is not alive (q would not be the lowest of
//    its row).  So p is dead: one of its ends is taken by some a in A -- not the shared end (again q
//    would be dead), so p's other end, shared with a in A, a subset of S: two pairs of the matching
//    S share an end, so p = a, contradicting p not in A.
//  * Every round accepts at least the globally lowest alive q, so the loop ends; at the end every
//    s in S is dead or accepted, and dead means an end shared with some a in A, a subset of S, i.e.
//    s = a.  Hence A = S.
//  * The walk accepts in q order, so sorting A by q gives the acceptance order.  With a limit, the
//    walk stops after `limit` acceptances, and its decisions before stopping do not depend on the
//    limit: its output is the first `limit` elements of S in q order.  So run to completion, sort,
//    truncate.
// Finisher: once few candidates remain alive (or after kMaxRounds rounds: long conflict chains
// accept one pair per round), one thread walks the alive candidates in q order.  That is exact too:
// an alive candidate shares no end with A, so the walk's decision on it depends only on earlier
// alive candidates, and dead or accepted candidates are decided as the walk would.
//
// Ids: state arrays are indexed by raw row/col ids when they are dense enough (max id + 1 <=
// 4 L + 2^22), else by their rank among the distinct ids (at::_unique2).  Scores: NaN is rejected
// as on the CPU; float16/bfloat16 are ranked in float32 (equal ties as on the CPU).
#include "../ops.h"
#include "common.cuh"

#include <torch/library.h>

#include <algorithm>
#include <limits>

namespace psqe {
namespace cuda {
namespace {

constexpr int kNone = std::numeric_limits<int>::max();
constexpr int64_t kFinishBelow = 2048;  // alive candidates left for the sequential finisher
constexpr int64_t kMaxRounds = 4096;

__global__ void __launch_bounds__(kThreads) propose_kernel(const int* __restrict__ alive, int n,
                                                          const int* __restrict__ srow, const int* __restrict__ scol,
                                                          int* __restrict__ best_row, int* __restrict__ best_col) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int q = alive[j];
    atomicMin(best_row + srow[q], q);
    atomicMin(best_col + scol[q], q);
  }
}

__global__ void __launch_bounds__(kThreads) accept_kernel(const int* __restrict__ alive, int n,
                                                         const int* __restrict__ srow, const int* __restrict__ scol,
                                                         const int* __restrict__ best_row,
                                                         const int* __restrict__ best_col,
                                                         bool* __restrict__ row_taken, bool* __restrict__ col_taken,
                                                         bool* __restrict__ accepted) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int q = alive[j];
    const int r = srow[q], c = scol[q];
    if (best_row[r] == q && best_col[c] == q) {  // at most one such q per row and per column
      accepted[q] = true;
      row_taken[r] = true;
      col_taken[c] = true;
    }
  }
}

// Resets the proposal slots touched this round and flags the survivors.
__global__ void __launch_bounds__(kThreads) prune_kernel(const int* __restrict__ alive, int n,
                                                        const int* __restrict__ srow, const int* __restrict__ scol,
                                                        int* __restrict__ best_row, int* __restrict__ best_col,
                                                        const bool* __restrict__ row_taken,
                                                        const bool* __restrict__ col_taken, bool* __restrict__ keep) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int q = alive[j];
    const int r = srow[q], c = scol[q];
    best_row[r] = kNone;
    best_col[c] = kNone;
    keep[j] = !row_taken[r] && !col_taken[c];
  }
}

// The sequential walk over the remaining alive candidates (ascending q).  One thread.
__global__ void finish_kernel(const int* __restrict__ alive, int n, const int* __restrict__ srow,
                              const int* __restrict__ scol, bool* __restrict__ row_taken, bool* __restrict__ col_taken,
                              bool* __restrict__ accepted) {
  for (int64_t j = 0; j < n; ++j) {
    const int q = alive[j];
    const int r = srow[q], c = scol[q];
    if (!row_taken[r] && !col_taken[c]) {
      row_taken[r] = true;
      col_taken[c] = true;
      accepted[q] = true;
    }
  }
}

// Dense ids in [0, size) for the state arrays.
at::Tensor dense_ids(const at::Tensor& ids, int64_t max_id, int64_t L, int64_t& size) {
  if (max_id + 1 <= 4 * L + (int64_t(1) << 22) && max_id < std::numeric_limits<int>::max()) {
    size = max_id + 1;
    return ids.to(at::kInt);
  }
  const auto uniq = at::_unique2(ids, /*sorted=*/false, /*return_inverse=*/true, /*return_counts=*/false);
  size = std::get<0>(uniq).size(0);
  return std::get<1>(uniq).to(at::kInt);
}

at::Tensor greedy_match_cuda(const at::Tensor& row_in, const at::Tensor& col_in, const at::Tensor& score_in,
                             int64_t limit) {
  check_greedy_match(row_in, col_in, score_in);
  TORCH_CHECK(row_in.is_cuda(), "psqe: greedy_match (CUDA): row must be a CUDA tensor, got ", row_in.device());
  const c10::cuda::CUDAGuard guard(row_in.device());
  const int64_t L = row_in.size(0);
  const auto idx_opts = row_in.options().dtype(at::kLong);
  if (L == 0 || limit == 0) return at::empty({0}, idx_opts);
  TORCH_CHECK(L < std::numeric_limits<int>::max(), "psqe: greedy_match (CUDA): at most 2^31 - 2 candidates, got ",
              L);

  const at::Tensor row = row_in.contiguous(), col = col_in.contiguous();
  const at::Tensor ext = at::stack({row.min(), row.max(), col.min(), col.max()}).cpu();
  const int64_t* e = ext.data_ptr<int64_t>();
  TORCH_CHECK(e[0] >= 0, "psqe: greedy_match: row ids must be >= 0, got ", e[0]);
  TORCH_CHECK(e[2] >= 0, "psqe: greedy_match: col ids must be >= 0, got ", e[2]);
  const at::Tensor score = score_in.scalar_type() == at::kDouble ? score_in.contiguous()
                                                                   : score_in.to(at::kFloat).contiguous();
  TORCH_CHECK(!at::isnan(score).any().item<bool>(), "psqe: greedy_match: score must not contain NaN");

  int64_t R = 0, C = 0;
  const at::Tensor row_d = dense_ids(row, e[1], L, R);
  const at::Tensor col_d = dense_ids(col, e[3], L, C);

  // q -> position (the acceptance order is ascending q).
  const at::Tensor order = std::get<1>(at::sort(score, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  const at::Tensor srow = row_d.index_select(0, order).contiguous();
  const at::Tensor scol = col_d.index_select(0, order).contiguous();

  const auto iopts = row.options().dtype(at::kInt);
  const auto bopts = row.options().dtype(at::kBool);
  at::Tensor best_row = at::full({R}, kNone, iopts), best_col = at::full({C}, kNone, iopts);
  at::Tensor row_taken = at::zeros({R}, bopts), col_taken = at::zeros({C}, bopts);
  at::Tensor accepted = at::zeros({L}, bopts);
  at::Tensor alive = at::arange(L, iopts);
  at::Tensor keep = at::empty({L}, bopts);

  const int device = row.get_device();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device).stream();
  const int* sr = srow.data_ptr<int>();
  const int* sc = scol.data_ptr<int>();
  bool* rt = row_taken.data_ptr<bool>();
  bool* ct = col_taken.data_ptr<bool>();
  bool* acc = accepted.data_ptr<bool>();

  int64_t n = L;
  for (int64_t round = 0; n > 0; ++round) {
    const int ni = static_cast<int>(n);
    const int* al = alive.data_ptr<int>();
    if (n <= kFinishBelow || round >= kMaxRounds) {
      finish_kernel<<<1, 1, 0, stream>>>(al, ni, sr, sc, rt, ct, acc);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      break;
    }
    const unsigned blocks = grid_for(n, kThreads, device);
    propose_kernel<<<blocks, kThreads, 0, stream>>>(al, ni, sr, sc, best_row.data_ptr<int>(),
                                                    best_col.data_ptr<int>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    accept_kernel<<<blocks, kThreads, 0, stream>>>(al, ni, sr, sc, best_row.data_ptr<int>(), best_col.data_ptr<int>(),
                                                   rt, ct, acc);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    prune_kernel<<<blocks, kThreads, 0, stream>>>(al, ni, sr, sc, best_row.data_ptr<int>(), best_col.data_ptr<int>(),
                                                  rt, ct, keep.data_ptr<bool>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    alive = alive.narrow(0, 0, n).masked_select(keep.narrow(0, 0, n));  // order-preserving; syncs
    n = alive.size(0);
  }

  at::Tensor ranks = at::nonzero(accepted).squeeze(1);  // ascending q = acceptance order
  if (limit >= 0 && limit < ranks.size(0)) ranks = ranks.narrow(0, 0, limit);
  return order.index_select(0, ranks);
}

}  // namespace
}  // namespace cuda
}  // namespace psqe

TORCH_LIBRARY_IMPL(psqe, CUDA, m) {
  m.impl("greedy_match", &psqe::cuda::greedy_match_cuda);
}
