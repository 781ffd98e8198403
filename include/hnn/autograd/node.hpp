// The autograd graph's node type. A node stands for one op application: it holds the edges to the nodes
// of the op's inputs, receives (accumulates) the gradient of the op's output, and its apply() turns that
// into gradients for the inputs. Leaves get an accumulator node that adds into tensor.grad().
// Depends on core/error.hpp; typed nodes are defined in tensor/tensor.hpp once Tensor is complete.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hnn::autograd {

class Node {
 public:
  virtual ~Node() = default;

  /// The op's name as PyTorch prints it in grad_fn (e.g. "MulBackward0").
  virtual const char* name() const = 0;
  /// True when a gradient has arrived since the last apply().
  virtual bool has_grad() const = 0;
  /// Consumes the accumulated output gradient and sends gradients along next_edges.
  virtual void apply() = 0;
  /// Drops the accumulated gradient.
  virtual void clear_grad() = 0;
  /// Frees what the op saved for backward; a later backward through this node is an error.
  virtual void release_saved() { released_ = true; }
  bool released() const { return released_; }

  /// Input edges in argument order; a null entry is an input that does not require grad.
  std::vector<std::shared_ptr<Node>> next_edges;
  /// Where the forward op was created (set when anomaly detection is on).
  std::string creation_context;

 protected:
  bool released_ = false;
};

}  // namespace hnn::autograd
