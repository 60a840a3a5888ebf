// Matrix types shared by the core: loads are float32 [rows, experts], maps are int32, row-major so
// that a row is one layer and contiguous (the layout the CUDA backend and the file formats use).
#pragma once

#include <cstdint>

#include <Eigen/Core>

namespace eplb {

using LoadMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using IndexMatrix = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using DoubleMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace eplb
