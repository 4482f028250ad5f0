// CPU kernels of psqe::kmeans_pp_init and psqe::kmeans_lloyd (semantics: see ops.cpp).
//
// kmeans_pp_init: D (float64 [N]) holds each row's squared distance to its nearest chosen seed; the
//   update after each new seed is parallel over rows, the inverse-CDF draw a sequential float64 scan.
// kmeans_lloyd: the assignment step is fused and tiled: per block of rows, at::mm_out of the block
//   against a block of centroids into a worker-local tile, then a running argmin of
//   ||c||^2 - 2<x, c> per row — never an N x k distance matrix beyond one tile per worker.  The
//   update step sums rows in float64, parallel over feature columns and sequential over rows, so the
//   result does not depend on the thread count.
#include "../ops.h"

#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace psqe {
namespace {

constexpr int64_t kRowBlock = 256;
constexpr int64_t kCentroidBlock = 1024;

template <typename scalar_t>
inline double sq_dist(const scalar_t* a, const scalar_t* b, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double diff = static_cast<double>(a[j]) - static_cast<double>(b[j]);
    s += diff * diff;
  }
  return s;
}

template <typename scalar_t>
at::Tensor kmeans_pp_init_impl(const at::Tensor& x, const at::Tensor& uniforms) {
  const int64_t N = x.size(0), d = x.size(1), k = uniforms.size(0);
  const scalar_t* X = x.data_ptr<scalar_t>();
  const double* U = uniforms.data_ptr<double>();
  at::Tensor out = at::empty({k}, x.options().dtype(at::kLong));
  int64_t* chosen = out.data_ptr<int64_t>();
  std::vector<double> D(N, std::numeric_limits<double>::infinity());

  auto uniform_index = [&](double u) {
    return std::min<int64_t>(static_cast<int64_t>(std::floor(u * static_cast<double>(N))), N - 1);
  };

  for (int64_t t = 0; t < k; ++t) {
    int64_t c;
    if (t == 0) {
      c = uniform_index(U[0]);
    } else {
      double total = 0.0;
      for (int64_t i = 0; i < N; ++i) total += D[i];
      if (!(total > 0.0)) {
        c = uniform_index(U[t]);
      } else {
        const double target = U[t] * total;
        double cum = 0.0;
        c = -1;
        for (int64_t i = 0; i < N; ++i) {
          cum += D[i];
          if (cum > target) {
            c = i;
            break;
          }
        }
        if (c < 0) {  // rounding: target reached the total
          for (int64_t i = N - 1; i >= 0; --i) {
            if (D[i] > 0.0) {
              c = i;
              break;
            }
          }
        }
      }
    }
    c = std::max<int64_t>(c, 0);
    chosen[t] = c;
    if (t + 1 == k) break;
    const scalar_t* xc = X + c * d;
    at::parallel_for(0, N, 1024, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const double dist = sq_dist(X + i * d, xc, d);
        if (dist < D[i]) D[i] = dist;
      }
    });
  }
  return out;
}

at::Tensor kmeans_pp_init_cpu(const at::Tensor& x_in, const at::Tensor& uniforms_in) {
  check_kmeans_pp_init(x_in, uniforms_in);
  const at::Tensor x = x_in.detach().contiguous();
  const at::Tensor uniforms = uniforms_in.detach().contiguous();
  if (x.scalar_type() == at::kDouble) return kmeans_pp_init_impl<double>(x, uniforms);
  return kmeans_pp_init_impl<float>(x, uniforms);
}

// a[i] = argmin_c (||C_c||^2 - 2 <x_i, C_c>), ties to the lowest c.
template <typename scalar_t>
void assign(const at::Tensor& x, const at::Tensor& C, int64_t* a) {
  const int64_t N = x.size(0), K = C.size(0);
  const at::Tensor cnorm = C.mul(C).sum(1);  // ||C_c||^2 in x's precision
  const scalar_t* cn = cnorm.data_ptr<scalar_t>();
  const int64_t KB = std::min(K, kCentroidBlock);
  const int64_t n_blocks = (N + kRowBlock - 1) / kRowBlock;
  at::parallel_for(0, n_blocks, 1, [&](int64_t b_begin, int64_t b_end) {
    at::Tensor tile_buf = at::empty({kRowBlock * KB}, x.options());
    std::vector<scalar_t> best(kRowBlock);
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t r0 = b * kRowBlock, r = std::min(kRowBlock, N - r0);
      const at::Tensor xb = x.narrow(0, r0, r);
      for (int64_t c0 = 0; c0 < K; c0 += KB) {
        const int64_t c = std::min(KB, K - c0);
        at::Tensor tile = tile_buf.narrow(0, 0, r * c).view({r, c});
        at::mm_out(tile, xb, C.narrow(0, c0, c).t());
        const scalar_t* s = tile.data_ptr<scalar_t>();
        for (int64_t rr = 0; rr < r; ++rr) {
          const scalar_t* srow = s + rr * c;
          scalar_t bv = c0 == 0 ? std::numeric_limits<scalar_t>::infinity() : best[rr];
          int64_t bi = c0 == 0 ? -1 : a[r0 + rr];
          for (int64_t j = 0; j < c; ++j) {
            const scalar_t v = cn[c0 + j] - scalar_t(2) * srow[j];
            if (v < bv || bi < 0) {
              bv = v;
              bi = c0 + j;
            }
          }
          best[rr] = bv;
          a[r0 + rr] = bi;
        }
      }
    }
  });
}

template <typename scalar_t>
std::tuple<at::Tensor, at::Tensor, double> kmeans_lloyd_impl(const at::Tensor& x, const at::Tensor& C0,
                                                             int64_t iters, double tol) {
  const int64_t N = x.size(0), d = x.size(1), K = C0.size(0);
  const scalar_t* X = x.data_ptr<scalar_t>();
  at::Tensor C = C0.clone();
  at::Tensor assignment = at::empty({N}, x.options().dtype(at::kLong));
  int64_t* a = assignment.data_ptr<int64_t>();
  std::vector<double> sums(K * d);
  std::vector<int64_t> counts(K);

  for (int64_t it = 0; it < iters; ++it) {
    assign<scalar_t>(x, C, a);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < N; ++i) ++counts[a[i]];
    std::fill(sums.begin(), sums.end(), 0.0);
    // Parallel over feature columns, sequential over rows: deterministic for any thread count.
    at::parallel_for(0, d, 16, [&](int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < N; ++i) {
        const scalar_t* xi = X + i * d;
        double* si = sums.data() + a[i] * d;
        for (int64_t j = j0; j < j1; ++j) si[j] += static_cast<double>(xi[j]);
      }
    });
    scalar_t* Cp = C.data_ptr<scalar_t>();
    double shift = 0.0;
    for (int64_t c = 0; c < K; ++c) {
      if (counts[c] == 0) continue;  // empty cluster keeps its centroid
      const double n = static_cast<double>(counts[c]);
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const scalar_t nv = static_cast<scalar_t>(sums[c * d + j] / n);
        const double diff = static_cast<double>(nv) - static_cast<double>(Cp[c * d + j]);
        s += diff * diff;
        Cp[c * d + j] = nv;
      }
      shift = std::max(shift, s);
    }
    if (shift <= tol) break;
  }

  assign<scalar_t>(x, C, a);
  const scalar_t* Cp = C.data_ptr<scalar_t>();
  const int64_t n_blocks = (N + 4095) / 4096;
  std::vector<double> partial(n_blocks, 0.0);  // fixed blocks: deterministic sum
  at::parallel_for(0, n_blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      double s = 0.0;
      for (int64_t i = b * 4096; i < std::min(N, (b + 1) * 4096); ++i) s += sq_dist(X + i * d, Cp + a[i] * d, d);
      partial[b] = s;
    }
  });
  double inertia = 0.0;
  for (double p : partial) inertia += p;
  return {C, assignment, inertia};
}

std::tuple<at::Tensor, at::Tensor, double> kmeans_lloyd_cpu(const at::Tensor& x_in, const at::Tensor& centroids,
                                                            int64_t iters, double tol) {
  check_kmeans_lloyd(x_in, centroids, iters);
  const at::Tensor x = x_in.detach().contiguous();
  const at::Tensor C0 = centroids.detach().contiguous();
  if (x.scalar_type() == at::kDouble) return kmeans_lloyd_impl<double>(x, C0, iters, tol);
  return kmeans_lloyd_impl<float>(x, C0, iters, tol);
}

}  // namespace
}  // namespace psqe

TORCH_LIBRARY_IMPL(psqe, CPU, m) {
  m.impl("kmeans_pp_init", &psqe::kmeans_pp_init_cpu);
  m.impl("kmeans_lloyd", &psqe::kmeans_lloyd_cpu);
}
