// CPU kernel of psqe::sim_topk: tiled inner-product top-k (row side) and best match (column side).
//
// The rows of x are split into blocks of tile_rows; at::parallel_for starts one worker per thread and
// the workers pull row blocks from a shared counter.  For each row block a worker walks the column
// blocks of y in order, computes one score tile x_blk @ y_blk^T with at::mm_out into its own
// preallocated buffer (the only O(tile) allocation), and folds the tile into
//   - a running top-k per row: a sorted buffer (value desc, index asc) written in place into the
//     output; columns arrive in increasing index order, so a strict `>` keeps ties on the lower index;
//   - a running best row per column (worker-local [M] arrays), merged across workers at the end with
//     the total order (value desc, row index asc), which makes the result independent of scheduling.
// Peak extra memory: one tile + its input blocks per worker, plus O(M) per worker for the column side.
#include "../ops.h"

#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <vector>

namespace psqe {
namespace {

// Inserts (v, j) into the descending buffer vals/idx of capacity kk that holds `count` entries.
template <typename acc_t>
inline void topk_insert(acc_t* vals, int64_t* idx, int64_t& count, int64_t kk, acc_t v, int64_t j) {
  int64_t pos;
  if (count < kk) {
    pos = count++;
  } else {
    pos = kk - 1;  // the caller checked v > vals[kk - 1]
  }
  while (pos > 0 && vals[pos - 1] < v) {
    vals[pos] = vals[pos - 1];
    idx[pos] = idx[pos - 1];
    --pos;
  }
  vals[pos] = v;
  idx[pos] = j;
}

template <typename acc_t>
void sim_topk_impl(const at::Tensor& x, const at::Tensor& y, int64_t kk, int64_t tile_rows, int64_t tile_cols,
                   bool col_best, at::Tensor& values, at::Tensor& indices, at::Tensor& col_values,
                   at::Tensor& col_indices) {
  const int64_t N = x.size(0), M = y.size(0), d = x.size(1);
  const auto acc_type = c10::CppTypeToScalarType<acc_t>::value;
  const bool upcast = x.scalar_type() != acc_type;
  const auto acc_opts = x.options().dtype(acc_type);

  acc_t* out_v = values.data_ptr<acc_t>();
  int64_t* out_i = indices.data_ptr<int64_t>();
  acc_t* cbest_v = col_best ? col_values.data_ptr<acc_t>() : nullptr;
  int64_t* cbest_i = col_best ? col_indices.data_ptr<int64_t>() : nullptr;
  std::mutex merge_mutex;

  const int64_t R = tile_rows, C = tile_cols;
  const int64_t n_row_blocks = (N + R - 1) / R;

  // Workers pull row blocks from a shared counter (dynamic balance: a descheduled or slower worker
  // does not hold up the others); each worker's blocks still arrive in increasing order.
  std::atomic<int64_t> next_block{0};
  const int64_t n_workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n_row_blocks));
  at::parallel_for(0, n_workers, 1, [&](int64_t, int64_t) {
    at::Tensor tile_buf = at::empty({R * std::min(C, M)}, acc_opts);
    at::Tensor xb_buf, yb_buf;
    if (upcast) {
      xb_buf = at::empty({R, d}, acc_opts);
      yb_buf = at::empty({std::min(C, M), d}, acc_opts);
    }
    std::vector<int64_t> count(R);
    std::vector<acc_t> lv;  // worker-local column best
    std::vector<int64_t> li;
    if (col_best) {
      lv.assign(M, -std::numeric_limits<acc_t>::infinity());
      li.assign(M, -1);
    }

    for (int64_t b = next_block.fetch_add(1); b < n_row_blocks; b = next_block.fetch_add(1)) {
      const int64_t r0 = b * R, r = std::min(R, N - r0);
      at::Tensor xb = x.narrow(0, r0, r);
      if (upcast) {
        xb = xb_buf.narrow(0, 0, r).copy_(xb);
      }
      std::fill(count.begin(), count.begin() + r, 0);

      for (int64_t c0 = 0; c0 < M; c0 += C) {
        const int64_t c = std::min(C, M - c0);
        at::Tensor yb = y.narrow(0, c0, c);
        if (upcast) {
          yb = yb_buf.narrow(0, 0, c).copy_(yb);
        }
        at::Tensor tile = tile_buf.narrow(0, 0, r * c).view({r, c});
        at::mm_out(tile, xb, yb.t());
        const acc_t* s = tile.data_ptr<acc_t>();

        for (int64_t rr = 0; rr < r; ++rr) {
          const acc_t* srow = s + rr * c;
          const int64_t i = r0 + rr;
          acc_t* vals = out_v + i * kk;
          int64_t* idx = out_i + i * kk;
          int64_t cnt = count[rr];
          // Fill phase: the first kk columns always enter.
          int64_t jj = 0;
          for (; jj < c && cnt < kk; ++jj) {
            topk_insert(vals, idx, cnt, kk, srow[jj], c0 + jj);
          }
          acc_t thr = vals[kk - 1];
          for (; jj < c; ++jj) {
            const acc_t v = srow[jj];
            if (v > thr) {
              topk_insert(vals, idx, cnt, kk, v, c0 + jj);
              thr = vals[kk - 1];
            }
          }
          count[rr] = cnt;
          if (col_best) {
            acc_t* cv = lv.data() + c0;
            int64_t* ci = li.data() + c0;
            for (int64_t j = 0; j < c; ++j) {
              const acc_t v = srow[j];
              if (v > cv[j] || ci[j] < 0) {
                cv[j] = v;
                ci[j] = i;
              }
            }
          }
        }
      }
    }

    if (col_best) {
      std::lock_guard<std::mutex> lock(merge_mutex);
      for (int64_t j = 0; j < M; ++j) {
        if (li[j] < 0) continue;
        if (cbest_i[j] < 0 || lv[j] > cbest_v[j] || (lv[j] == cbest_v[j] && li[j] < cbest_i[j])) {
          cbest_v[j] = lv[j];
          cbest_i[j] = li[j];
        }
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> sim_topk_cpu(const at::Tensor& x_in,
                                                                        const at::Tensor& y_in, int64_t k,
                                                                        int64_t tile_rows, int64_t tile_cols,
                                                                        bool col_best) {
  check_sim_topk(x_in, y_in, k);
  const at::Tensor x = x_in.detach().contiguous();
  const at::Tensor y = y_in.detach().contiguous();
  const int64_t N = x.size(0), M = y.size(0);
  const int64_t kk = std::min(k, M);
  const bool is_double = x.scalar_type() == at::kDouble;
  const auto acc_type = is_double ? at::kDouble : at::kFloat;
  const auto acc_opts = x.options().dtype(acc_type);
  const auto idx_opts = x.options().dtype(at::kLong);

  int64_t R = tile_rows > 0 ? tile_rows : kDefaultTileRows;
  int64_t C = tile_cols > 0 ? tile_cols : kDefaultTileCols;
  // Keep every worker busy when there are few rows.
  const int64_t nthreads = std::max<int64_t>(1, at::get_num_threads());
  if (N > 0 && (N + R - 1) / R < nthreads) {
    R = std::max<int64_t>(1, (N + nthreads - 1) / nthreads);
  }
  R = std::max<int64_t>(1, std::min(R, std::max<int64_t>(N, 1)));
  C = std::max<int64_t>(1, std::min(C, std::max<int64_t>(M, 1)));

  at::Tensor values = at::empty({N, kk}, acc_opts);
  at::Tensor indices = at::empty({N, kk}, idx_opts);
  at::Tensor col_values, col_indices;
  if (col_best) {
    col_values = at::full({M}, -std::numeric_limits<double>::infinity(), acc_opts);
    col_indices = at::full({M}, -1, idx_opts);
  } else {
    col_values = at::empty({0}, acc_opts);
    col_indices = at::empty({0}, idx_opts);
  }

  if (N > 0 && M > 0) {
    if (is_double) {
      sim_topk_impl<double>(x, y, kk, R, C, col_best, values, indices, col_values, col_indices);
    } else {
      sim_topk_impl<float>(x, y, kk, R, C, col_best, values, indices, col_values, col_indices);
    }
  }
  if (values.scalar_type() != x.scalar_type()) {
    values = values.to(x.scalar_type());
    col_values = col_values.to(x.scalar_type());
  }
  return {values, indices, col_values, col_indices};
}

}  // namespace
}  // namespace psqe

TORCH_LIBRARY_IMPL(psqe, CPU, m) {
  m.impl("sim_topk", &psqe::sim_topk_cpu);
}
