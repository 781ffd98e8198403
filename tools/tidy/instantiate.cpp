// The translation unit scripts/tidy_check.sh gives clang-tidy besides examples/lenet.cpp: every header of
// hnn.hpp, with the public class templates explicitly instantiated for the dtypes users build them with,
// so their members are analysed even where no example calls them. Compiled only by clang-tidy.
#include <hnn/hnn.hpp>

template class hnn::Tensor<float>;
template class hnn::Tensor<double>;
template class hnn::AnyTensor<hnn::CPU>;

#define HNN_TIDY_MODULES(T)                     \
  template class hnn::nn::Linear<T>;            \
  template class hnn::nn::Conv2d<T>;            \
  template class hnn::nn::BatchNorm1d<T>;       \
  template class hnn::nn::BatchNorm2d<T>;       \
  template class hnn::nn::BatchNorm3d<T>;       \
  template class hnn::nn::FrozenBatchNorm1d<T>; \
  template class hnn::nn::FrozenBatchNorm2d<T>; \
  template class hnn::nn::FrozenBatchNorm3d<T>; \
  template class hnn::nn::GhostBatchNorm1d<T>;  \
  template class hnn::nn::GhostBatchNorm2d<T>;  \
  template class hnn::nn::MaskedBatchNorm1d<T>; \
  template class hnn::nn::Dropout<T>;           \
  template class hnn::nn::Flatten<T>;           \
  template class hnn::nn::ReLU<T>;              \
  template class hnn::nn::Sigmoid<T>;           \
  template class hnn::nn::Tanh<T>;              \
  template class hnn::nn::Softmax<T>;           \
  template class hnn::nn::LogSoftmax<T>;        \
  template class hnn::nn::MaxPool2d<T>;         \
  template class hnn::nn::AvgPool2d<T>;         \
  template class hnn::nn::Sequential<T>;        \
  template class hnn::nn::CrossEntropyLoss<T>;  \
  template class hnn::nn::NLLLoss<T>;           \
  template class hnn::nn::MSELoss<T>;           \
  template class hnn::nn::BCELoss<T>;           \
  template class hnn::nn::BCEWithLogitsLoss<T>; \
  template class hnn::optim::SGD<T>;            \
  template class hnn::optim::Adam<T>;           \
  template class hnn::optim::AdamW<T>;          \
  template class hnn::data::StandardScaler<T>;  \
  template class hnn::data::MinMaxScaler<T>;    \
  template class hnn::data::SimpleImputer<T>;   \
  template class hnn::data::CSVDataset<T>;      \
  template class hnn::data::CSVDataset<T, T>;

HNN_TIDY_MODULES(float)
HNN_TIDY_MODULES(double)

// Function templates the classes above do not reach.
template hnn::nn::Module<float>& hnn::nn::utils::freeze_batch_norm(hnn::nn::Module<float>&);
template hnn::Tensor<float> hnn::data::read_csv<float>(const std::string&, const hnn::data::CSVOptions&);

int main() { return 0; }
