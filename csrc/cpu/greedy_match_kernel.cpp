// CPU kernels of psqe::greedy_match and psqe::greedy_match_grouped (semantics: see ops.cpp): a
// stable descending sort of the candidates by score, then one sequential walk that marks taken
// rows/columns in bitsets sized by the largest id (or hash sets when ids are sparse and huge).
#include "../ops.h"

#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <unordered_set>
#include <utility>
#include <vector>

namespace psqe {
namespace {

class TakenSet {
 public:
  TakenSet(int64_t max_id, int64_t n_candidates) {
    // Dense bits while they cost no more than ~8 bytes per candidate (+ 16 MiB); hash set beyond.
    dense_ = max_id + 1 <= 64 * n_candidates + (int64_t(1) << 27);
    if (dense_) {
      bits_.assign(static_cast<size_t>((max_id + 64) / 64), 0);
    } else {
      set_.reserve(static_cast<size_t>(n_candidates));
    }
  }
  bool contains(int64_t id) const {
    if (dense_) return (bits_[id >> 6] >> (id & 63)) & 1;
    return set_.count(id) != 0;
  }
  void insert(int64_t id) {
    if (dense_) {
      bits_[id >> 6] |= uint64_t(1) << (id & 63);
    } else {
      set_.insert(id);
    }
  }

 private:
  bool dense_;
  std::vector<uint64_t> bits_;
  std::unordered_set<int64_t> set_;
};

// Positions sorted by score descending, ties by position ascending (= a stable descending sort).
// Sorting (score, position) records keeps the comparisons cache-friendly.
template <typename scalar_t>
void stable_order_desc(const scalar_t* s, std::vector<int64_t>& order) {
  const int64_t L = static_cast<int64_t>(order.size());
  std::vector<std::pair<scalar_t, int64_t>> rec(static_cast<size_t>(L));
  for (int64_t p = 0; p < L; ++p) rec[p] = {s[p], p};
  std::sort(rec.begin(), rec.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (int64_t p = 0; p < L; ++p) order[p] = rec[p].second;
}

at::Tensor greedy_walk(const char* who, const at::Tensor& row_in, const at::Tensor& col_in,
                       const at::Tensor& score_in, const at::Tensor* group_in, const at::Tensor* group_limit_in,
                       int64_t limit) {
  const int64_t L = row_in.size(0);
  const auto idx_opts = row_in.options().dtype(at::kLong);
  if (L == 0 || limit == 0) return at::empty({0}, idx_opts);

  const at::Tensor row = row_in.contiguous(), col = col_in.contiguous();
  const int64_t* R = row.data_ptr<int64_t>();
  const int64_t* C = col.data_ptr<int64_t>();
  int64_t rmax = 0, cmax = 0;
  for (int64_t p = 0; p < L; ++p) {
    TORCH_CHECK(R[p] >= 0, "psqe: ", who, ": row ids must be >= 0, got ", R[p], " at position ", p);
    TORCH_CHECK(C[p] >= 0, "psqe: ", who, ": col ids must be >= 0, got ", C[p], " at position ", p);
    rmax = std::max(rmax, R[p]);
    cmax = std::max(cmax, C[p]);
  }

  at::Tensor group, group_limit;
  const int64_t* G = nullptr;
  const int64_t* GL = nullptr;
  std::vector<int64_t> group_used;
  if (group_in != nullptr) {
    group = group_in->contiguous();
    group_limit = group_limit_in->contiguous();
    G = group.data_ptr<int64_t>();
    GL = group_limit.data_ptr<int64_t>();
    const int64_t n_groups = group_limit.size(0);
    for (int64_t p = 0; p < L; ++p) {
      TORCH_CHECK(G[p] >= 0 && G[p] < n_groups, "psqe: ", who, ": group ids must be in [0, ", n_groups,
                  ") (the length of group_limit), got ", G[p], " at position ", p);
    }
    group_used.assign(static_cast<size_t>(n_groups), 0);
  }

  const at::Tensor score = score_in.scalar_type() == at::kDouble ? score_in.contiguous()
                                                                   : score_in.to(at::kFloat).contiguous();
  TORCH_CHECK(!at::isnan(score).any().item<bool>(), "psqe: ", who, ": score must not contain NaN");
  std::vector<int64_t> order(L);
  std::iota(order.begin(), order.end(), 0);
  if (score.scalar_type() == at::kDouble) {
    stable_order_desc(score.data_ptr<double>(), order);
  } else {
    stable_order_desc(score.data_ptr<float>(), order);
  }

  TakenSet rows(rmax, L), cols(cmax, L);
  const int64_t cap = limit < 0 ? L : std::min(limit, L);
  std::vector<int64_t> selected;
  selected.reserve(static_cast<size_t>(std::min<int64_t>(cap, std::min(rmax, cmax) + 1)));
  for (int64_t p : order) {
    const int64_t r = R[p], c = C[p];
    if (rows.contains(r) || cols.contains(c)) continue;
    if (G != nullptr) {
      const int64_t g = G[p];
      if (GL[g] >= 0 && group_used[g] >= GL[g]) continue;
      ++group_used[g];
    }
    rows.insert(r);
    cols.insert(c);
    selected.push_back(p);
    if (static_cast<int64_t>(selected.size()) >= cap) break;
  }
  at::Tensor out = at::empty({static_cast<int64_t>(selected.size())}, idx_opts);
  std::copy(selected.begin(), selected.end(), out.data_ptr<int64_t>());
  return out;
}

at::Tensor greedy_match_cpu(const at::Tensor& row, const at::Tensor& col, const at::Tensor& score, int64_t limit) {
  check_greedy_match(row, col, score);
  return greedy_walk("greedy_match", row, col, score, nullptr, nullptr, limit);
}

at::Tensor greedy_match_grouped_cpu(const at::Tensor& row, const at::Tensor& col, const at::Tensor& score,
                                    const at::Tensor& group, const at::Tensor& group_limit, int64_t limit) {
  check_greedy_match_grouped(row, col, score, group, group_limit);
  return greedy_walk("greedy_match_grouped", row, col, score, &group, &group_limit, limit);
}

}  // namespace
}  // namespace psqe

TORCH_LIBRARY_IMPL(psqe, CPU, m) {
  m.impl("greedy_match", &psqe::greedy_match_cpu);
  m.impl("greedy_match_grouped", &psqe::greedy_match_grouped_cpu);
}
