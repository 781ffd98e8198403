// The backward engine: from the root's node, a depth-first topological sort of the graph, then one
// reverse pass applying each node that received a gradient (micrograd's engine, with freeing).
// Depends on autograd/function.hpp.
#pragma once

#include <unordered_set>
#include <utility>
#include <vector>

#include "hnn/autograd/function.hpp"

namespace hnn::autograd {

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
  HNN_CHECK_RUNTIME(root.requires_grad(),
                    "element 0 of tensors does not require grad and does not have a grad_fn: call "
                    "requires_grad_() on a leaf before computing the tensor you call backward() on");
  HNN_CHECK(grad.shape() == root.shape(), "backward: the gradient has shape ", grad.shape(),
            " but the tensor has shape ", root.shape());
  NoGradGuard no_grad;  // gradients of gradients are not recorded
  std::shared_ptr<Node> root_node = edge_for(root);
  static_cast<TypedNode<T, D>*>(root_node.get())->accumulate(grad);
  for (Node* node : topological_order(root_node.get())) {
    if (!node->has_grad()) continue;
    node->apply();
    node->clear_grad();
    if (!retain_graph) node->release_saved();
  }
}

}  // namespace hnn::autograd
