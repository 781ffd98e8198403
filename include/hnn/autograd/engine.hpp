// The backward engine: from the root's node, a depth-first topological sort of the graph, then one
// reverse pass applying each node that received a gradient (micrograd's engine, with freeing).
// Depends on autograd/function.hpp.
#pragma once

#include <functional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "hnn/autograd/function.hpp"

namespace hnn::autograd {

/// Callbacks queued while a backward pass runs (from hooks) run once, in order, after its last node,
/// before backward() returns (torch's Variable._execution_engine.queue_callback). DistributedDataParallel
/// waits for its gradient all-reduces there.
inline std::vector<std::function<void()>>& final_callbacks() {
  static thread_local std::vector<std::function<void()>> queue;
  return queue;
}
/// Nesting depth of backward passes on this thread (queue_callback is only meaningful inside one).
inline int& backward_depth() {
  static thread_local int depth = 0;
  return depth;
}
inline void queue_callback(std::function<void()> fn) {
  HNN_CHECK_RUNTIME(backward_depth() > 0,
                    "queue_callback: callbacks can only be queued while a backward pass "
                    "runs (from a hook), not outside backward()");
  final_callbacks().push_back(std::move(fn));
}

/// Topological order of the graph below `root`, root first.
inline std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> post_order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  visited.insert(root);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->next_edges.size()) {
      Node* child = node->next_edges[next++].get();
      if (child != nullptr && visited.insert(child).second) stack.emplace_back(child, 0);
    } else {
      post_order.push_back(node);
      stack.pop_back();
    }
  }
  return {post_order.rbegin(), post_order.rend()};
}

template <class T, class D>
void run_backward(const Tensor<T, D>& root, const Tensor<T, D>& grad, bool retain_graph) {
  HNN_CHECK_RUNTIME(
      root.requires_grad(),
      "element 0 of tensors does not require grad and does not have a grad_fn (tensor of shape ",
      root.shape(),
      "): call requires_grad_() on a leaf before computing the tensor you call "
      "backward() on");
  HNN_CHECK(grad.shape() == root.shape(), "backward: the gradient has shape ", grad.shape(),
            " but the tensor has shape ", root.shape());
  NoGradGuard no_grad;  // gradients of gradients are not recorded
  std::shared_ptr<Node> root_node = edge_for(root);
  static_cast<TypedNode<T, D>*>(root_node.get())->accumulate(grad);
  // This pass's callbacks only: an enclosing pass (a backward run from a hook) keeps its own, and a
  // pass that throws drops its callbacks.
  struct CallbackScope {
    std::vector<std::function<void()>> enclosing = std::move(final_callbacks());
    CallbackScope() {
      final_callbacks().clear();
      ++backward_depth();
    }
    ~CallbackScope() {
      final_callbacks() = std::move(enclosing);
      --backward_depth();
    }
  } scope;
  for (Node* node : topological_order(root_node.get())) {
    if (!node->has_grad()) continue;
    node->apply();
    node->clear_grad();
    if (!retain_graph) node->release_saved();
  }
  // Indexed, not iterated: a callback may queue another, which runs after it.
  for (size_t i = 0; i < final_callbacks().size(); ++i) {
    auto fn = std::move(final_callbacks()[i]);
    fn();
  }
}

}  // namespace hnn::autograd
