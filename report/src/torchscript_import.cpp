// TorchScript → lipschitz::Network by running the module's inlined graph one node at a time.
//
// Every value is either a constant (parameters, and whatever is computed from them and from
// shapes alone: spectral_norm's σ-normalised weight, view sizes, …) or a network value, a
// tensor that depends on the input. Constant nodes are simply executed. Nodes with a network
// input become layers; each is run twice, once by the model's own operator and once by
// run_layer() from our description of it, and the two outputs must agree: a layer we misread
// stops the import instead of yielding a wrong bound.

#include <report/model_import.hpp>
#include <report/network_builder.hpp>

#include "import_common.hpp"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

namespace lipschitz::report {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

using detail::agree;
using detail::error_summary;
using detail::extent_of;
using detail::max_difference;

struct Entry {
  c10::IValue value;
  int layer = -1;  // ≥ 0: a network value, the builder's layer index
};

class Interpreter {
 public:
  Interpreter(std::string path, NetworkBuilder& builder) : path_(std::move(path)), builder_(builder) {}

  int run(const torch::jit::Module& module, torch::jit::Graph& graph) {
    auto inputs = graph.inputs();
    if (inputs.size() != 2)
      throw ImportError(path_ + ": forward takes " + std::to_string(inputs.size() - 1) +
                        " inputs; only models with one input tensor can be analysed");
    env_[inputs[0]] = {module._ivalue(), -1};
    env_[inputs[1]] = {builder_.value(0).clone(), 0};
    run_block(graph.block());
    const Entry& out = env_.at(graph.outputs()[0]);
    if (out.layer < 0 || !out.value.isTensor())
      throw ImportError(path_ + ": the model's output is not a tensor computed from its input "
                        "(tuples and dictionaries are not supported)");
    return out.layer;
  }

 private:
  void run_block(Block* block) {
    for (Node* node : block->nodes()) run_node(node);
  }

  Entry& at(const Value* v) {
    auto it = env_.find(v);
    if (it == env_.end()) throw ImportError(path_ + ": internal: value %" + v->debugName() + " used before it is defined");
    return it->second;
  }
  const c10::IValue& arg(Node* node, std::size_t i) { return at(node->input(i)).value; }
  int dep(Node* node, std::size_t i) { return at(node->input(i)).layer; }

  // Runs the model's own operator on the current values.
  std::vector<c10::IValue> execute(Node* node) {
    torch::jit::Stack stack;
    for (const Value* v : node->inputs()) stack.push_back(at(v).value);
    const std::string op = node->kind().toQualString();
    // The interpreter's own instructions have no operator to look up.
    if (op == "prim::ListConstruct") {
      const auto list_type = node->output()->type()->cast<c10::ListType>();
      c10::impl::GenericList list(list_type ? list_type->getElementType() : c10::AnyType::get());
      for (const c10::IValue& v : stack) list.push_back(v);
      return {c10::IValue(list)};
    }
    if (op == "prim::TupleConstruct") return {c10::IValue(c10::ivalue::Tuple::create(stack))};
    if (op == "prim::ListUnpack") return stack.at(0).toListRef().vec();
    if (op == "prim::TupleUnpack") return stack.at(0).toTupleRef().elements().vec();
    if (op == "prim::unchecked_cast") return {stack.at(0)};
    if (op == "prim::Uninitialized") return {c10::IValue()};
    try {
      node->getOperation()(stack);
    } catch (const std::exception& e) {
      throw ImportError(path_ + ": cannot run " + op + " in the model's graph: " +
                        error_summary(e.what()));
    }
    return stack;
  }

  void run_node(Node* node) {
    const std::string op = node->kind().toQualString();
    if (op == "prim::Constant") {
      env_[node->output()] = {torch::jit::toIValue(node->output()).value_or(c10::IValue()), -1};
      return;
    }
    if (op == "prim::GetAttr") {
      const c10::IValue& object = arg(node, 0);
      env_[node->output()] = {object.toObject()->getAttr(node->s(c10::attr::name)), -1};
      return;
    }
    if (op == "prim::If") {
      if (dep(node, 0) >= 0) unsupported(node, "control flow that depends on the input");
      Block* taken = node->blocks()[arg(node, 0).toBool() ? 0 : 1];
      run_block(taken);
      for (std::size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = at(taken->outputs()[i]);
      return;
    }
    if (op == "prim::Loop") {
      run_loop(node);
      return;
    }
    bool depends = false;
    for (std::size_t i = 0; i < node->inputs().size(); ++i) depends |= dep(node, i) >= 0;
    if (!depends) {
      const auto outputs = execute(node);
      for (std::size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = {outputs.at(i), -1};
      return;
    }
    // Shape queries on a network value give constants.
    static const std::set<std::string> shape_ops{"aten::size", "aten::dim", "aten::numel",
                                                 "aten::len", "prim::shape", "prim::device",
                                                 "prim::dtype", "aten::__isnot__", "aten::__is__"};
    if (shape_ops.count(op)) {
      const auto outputs = execute(node);
      for (std::size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = {outputs.at(i), -1};
      return;
    }
    layer_node(node, op);
  }

  void run_loop(Node* node) {
    // inputs: max trip count, initial condition, carried…; block: (iteration, carried…) →
    // (condition, carried…).
    if (dep(node, 0) >= 0 || dep(node, 1) >= 0) unsupported(node, "a loop whose length depends on the input");
    Block* body = node->blocks()[0];
    std::vector<Entry> carried;
    for (std::size_t i = 2; i < node->inputs().size(); ++i) carried.push_back(at(node->input(i)));
    const int64_t trips = arg(node, 0).toInt();
    bool condition = arg(node, 1).toBool();
    for (int64_t t = 0; t < trips && condition; ++t) {
      env_[body->inputs()[0]] = {c10::IValue(t), -1};
      for (std::size_t i = 0; i < carried.size(); ++i) env_[body->inputs()[i + 1]] = carried[i];
      run_block(body);
      const Entry& c = at(body->outputs()[0]);
      if (c.layer >= 0) unsupported(node, "a loop whose condition depends on the input");
      condition = c.value.toBool();
      for (std::size_t i = 0; i < carried.size(); ++i) carried[i] = at(body->outputs()[i + 1]);
    }
    for (std::size_t i = 0; i < carried.size(); ++i) env_[node->output(i)] = carried[i];
  }

  [[noreturn]] void unsupported(Node* node, const std::string& what) {
    throw ImportError(path_ + ": " + name_of(node, short_op(node)) + " (" +
                      node->kind().toQualString() + ") uses " + what + ", which cannot be analysed");
  }

  static std::string short_op(Node* node) {
    std::string s = node->kind().toUnqualString();
    if (!s.empty() && s.back() == '_') s.pop_back();  // in-place variants
    return s;
  }

  // The module path from the inlining call stack ("main.0"), PyTorch's named_modules() name.
  std::string name_of(Node* node, const std::string& op, const std::string& type = {}) {
    std::string path, cls;
    if (auto cs = node->callstack()) {
      for (const auto& entry : (*cs)->vec()) {
        const auto& info = std::get<2>(entry);
        if (!info) continue;
        path += (path.empty() ? "" : ".") + info->instance_name();
        if (info->class_type() && info->class_type()->name()) cls = info->class_type()->name()->qualifiedName();
      }
    }
    const bool builtin = cls.find("torch.nn.modules.") != std::string::npos;
    std::string name;
    if (path.empty()) {
      name = op;
    } else if (builtin) {
      // A Conv with padding_mode != 'zeros' pads before it convolves: two layers, one module.
      const bool conv_module = cls.find(".conv.") != std::string::npos;
      name = conv_module && type.rfind("Pad", 0) == 0 ? path + ".padding" : path;
    } else {
      name = path + "." + op;
    }
    const int n = ++name_counts_[name];
    return n == 1 ? name : name + "#" + std::to_string(n);
  }

  // Appends the layer and checks it against the model's operator.
  int add_layer(Node* node, Layer layer, const at::Tensor& real) {
    int index = 0;
    try {
      index = builder_.add(layer, layer.kind == LayerKind::unknown ? real : at::Tensor());
    } catch (const std::invalid_argument& e) {
      throw ImportError(path_ + ": " + e.what());
    }
    const at::Tensor& ours = builder_.value(index);
    if (real.is_floating_point() && !real.isfinite().all().item<bool>())
      throw ImportError(path_ + ": layer '" + layer.name + "' (" + node->kind().toQualString() +
                        "): the model's own output is not finite (inf or NaN) on a random input; "
                        "are its weights finite and within their dtype's range?");
    if (!agree(ours, real))
      throw ImportError(path_ + ": layer '" + layer.name + "' (" + node->kind().toQualString() +
                        "): our reading of it gives a different output from the model's (max "
                        "difference " + std::to_string(max_difference(ours, real)) +
                        "). A model that changes a tensor in place and reads it again later "
                        "does this; it cannot be analysed");
    return index;
  }

  static std::vector<double> values(const c10::IValue& v) {
    return v.isTensor() ? to_vector(v.toTensor()) : std::vector<double>{};
  }

  // A write into a constant tensor of data computed from the input (`h[:, :4] = 3 * x` on a
  // zeros tensor) would turn that constant into a network value behind our back.
  void refuse_writes_into_constants(Node* node) {
    const c10::FunctionSchema* schema = node->maybeSchema();
    if (!schema) return;
    const auto& args = schema->arguments();
    for (std::size_t i = 0; i < args.size() && i < node->inputs().size(); ++i) {
      const auto* alias = args[i].alias_info();
      if (alias && alias->isWrite() && dep(node, i) < 0)
        unsupported(node, "an in-place write of data computed from the input into a constant "
                          "tensor");
    }
  }

  void layer_node(Node* node, const std::string& op) {
    // Tuples and lists holding network values: kept element by element, so that unpacking
    // them gives the network values back.
    if (op == "prim::TupleConstruct" || op == "prim::ListConstruct") {
      std::vector<Entry> elements;
      for (const Value* v : node->inputs()) elements.push_back(at(v));
      env_[node->output()] = {execute(node).at(0), dep_of(elements)};
      aggregates_[node->output()] = std::move(elements);
      return;
    }
    if ((op == "prim::TupleUnpack" || op == "prim::ListUnpack") && aggregates_.count(node->input(0))) {
      const std::vector<Entry>& elements = aggregates_.at(node->input(0));
      for (std::size_t i = 0; i < node->outputs().size(); ++i) env_[node->output(i)] = elements.at(i);
      return;
    }
    if ((op == "prim::TupleIndex" || op == "aten::__getitem__") && aggregates_.count(node->input(0)) &&
        dep(node, 1) < 0) {
      const std::vector<Entry>& elements = aggregates_.at(node->input(0));
      const int64_t i = arg(node, 1).toInt();
      env_[node->output()] = elements.at(static_cast<std::size_t>(i < 0 ? i + static_cast<int64_t>(elements.size()) : i));
      return;
    }
    refuse_writes_into_constants(node);
    const std::vector<c10::IValue> theirs = execute(node);
    for (std::size_t i = 0; i < theirs.size(); ++i)
      if (!theirs[i].isTensor())
        unsupported(node, "a non-tensor value computed from the input");
    current_ = theirs.at(0).toTensor();
    const std::string s = short_op(node);
    Layer layer;
    layer.kind = LayerKind::unknown;
    // The network input of the node: the first network-valued input.
    for (std::size_t i = 0; i < node->inputs().size(); ++i)
      if (dep(node, i) >= 0) {
        layer.inputs = {dep(node, i)};
        break;
      }
    bool understood = !layer.inputs.empty() && theirs.size() == 1;
    for (const Value* v : node->inputs()) understood &= !aggregates_.count(v);
    if (understood) understood = describe(node, op, s, layer);
    if (!understood) {
      layer.kind = LayerKind::unknown;
      layer.type = op;
      if (layer.note.empty()) layer.note = op + " is not a layer this tool understands";
      // Every network value it reads, also inside tuples and lists (torch.cat's).
      layer.inputs.clear();
      for (const Value* v : node->inputs()) {
        auto it = aggregates_.find(v);
        const std::vector<Entry> entries = it != aggregates_.end() ? it->second : std::vector<Entry>{at(v)};
        for (const Entry& e : entries)
          if (e.layer >= 0 && std::find(layer.inputs.begin(), layer.inputs.end(), e.layer) == layer.inputs.end())
            layer.inputs.push_back(e.layer);
      }
      if (layer.inputs.empty()) unsupported(node, "an input it cannot trace");
    }
    layer.name = name_of(node, s, layer.type);
    env_[node->output(0)] = {theirs[0], add_layer(node, layer, theirs[0].toTensor())};
    // Further outputs (std_mean's mean, …) depend on the input too: each its own unknown layer.
    for (std::size_t i = 1; i < theirs.size(); ++i) {
      Layer extra = layer;
      extra.kind = LayerKind::unknown;
      extra.name = layer.name + ":" + std::to_string(i);
      extra.note = op + " output " + std::to_string(i) + " is not a layer this tool understands";
      env_[node->output(i)] = {theirs[i], add_layer(node, extra, theirs[i].toTensor())};
    }
  }

  static int dep_of(const std::vector<Entry>& entries) {
    for (const Entry& e : entries)
      if (e.layer >= 0) return e.layer;
    return -1;
  }

  // Fills `layer` for a node whose first input is a network value; false if not understood.
  bool describe(Node* node, const std::string& op, const std::string& s, Layer& layer) {
    const auto n_in = node->inputs().size();
    const auto constant = [&](std::size_t i) { return i < n_in && dep(node, i) < 0; };
    if (!arg(node, 0).isTensor()) return false;
    const at::Tensor x = arg(node, 0).toTensor();
    const auto ints = [&](std::size_t i) { return arg(node, i).toIntVector(); };
    const auto weight_tensor = [&](std::size_t i) { return arg(node, i).toTensor(); };

    // `_convolution_mode` is what tracing records for Conv1d/Conv2d(padding='same' or 'valid'):
    // conv2d's arguments with the padding as a string.
    if (op == "aten::_convolution" || op == "aten::convolution" || s == "conv1d" ||
        s == "conv2d" || s == "_convolution_mode" || s == "conv_transpose1d" ||
        s == "conv_transpose2d") {
      if (!constant(1) || !constant(2)) return false;
      const at::Tensor w = weight_tensor(1);
      if (w.dim() != 3 && w.dim() != 4) return false;
      const int dims = static_cast<int>(w.dim()) - 2;
      bool transposed = false;
      std::vector<int64_t> stride, padding, dilation, output_padding;
      int64_t groups = 1;
      std::string padding_text;
      if (op == "aten::_convolution" || op == "aten::convolution") {
        stride = ints(3), padding = ints(4), dilation = ints(5);
        transposed = arg(node, 6).toBool();
        output_padding = ints(7);
        groups = arg(node, 8).toInt();
      } else if (s.rfind("conv_transpose", 0) == 0) {
        transposed = true;
        stride = ints(3), padding = ints(4), output_padding = ints(5);
        groups = arg(node, 6).toInt();
        dilation = ints(7);
      } else {
        stride = ints(3);
        if (arg(node, 4).isString()) padding_text = arg(node, 4).toStringRef();
        else padding = ints(4);
        dilation = ints(5);
        groups = arg(node, 6).toInt();
      }
      for (int64_t p : output_padding)
        if (p != 0) return false;  // ConvTranspose with output_padding: not in the engine yet
      layer.kind = LayerKind::conv;
      ConvSpec& spec = layer.spec;
      spec.spatial_dims = dims;
      spec.weight_dim0 = w.size(0);
      spec.weight_dim1 = w.size(1);
      spec.kernel = dims == 1 ? Extent{1, w.size(2)} : Extent{w.size(2), w.size(3)};
      spec.stride = extent_of(stride, dims, 1);
      spec.dilation = extent_of(dilation, dims, 1);
      spec.groups = groups;
      spec.transposed = transposed;
      if (padding_text == "same") {
        // PyTorch pads k_eff − 1 in all, the extra one after: symmetric only for odd k_eff.
        const Extent k = effective_kernel(spec);
        for (int d = 2 - dims; d < 2; ++d) {
          if ((k[d] - 1) % 2 != 0) return false;
          spec.padding[d] = (k[d] - 1) / 2;
        }
      } else if (padding_text.empty()) {
        spec.padding = extent_of(padding, dims, 0);
      }
      layer.weight = to_vector(w);
      layer.bias = values(arg(node, 2));
      layer.type = std::string(transposed ? "ConvTranspose" : "Conv") + std::to_string(dims) + "d";
      return true;
    }
    if (op == "aten::linear" || op == "aten::matmul" || op == "aten::mm" || op == "aten::addmm") {
      at::Tensor w, b;
      if (op == "aten::linear") {
        if (!constant(1) || !constant(2)) return false;
        w = weight_tensor(1);
        if (arg(node, 2).isTensor()) b = arg(node, 2).toTensor();
      } else if (op == "aten::addmm") {  // addmm(bias, x, Wᵀ, beta, alpha): old traced Linear
        if (dep(node, 1) < 0 || !constant(0) || !constant(2) || arg(node, 3).toDouble() != 1 ||
            arg(node, 4).toDouble() != 1)
          return false;
        layer.inputs = {dep(node, 1)};
        w = weight_tensor(2).t();
        b = arg(node, 0).toTensor();
        if (b.dim() > 1) return false;
      } else {
        if (!constant(1) || dep(node, 0) < 0 || weight_tensor(1).dim() != 2) return false;
        w = weight_tensor(1).t();
      }
      if (w.dim() != 2) return false;
      layer.kind = LayerKind::conv;
      layer.linear = true;
      layer.weight = to_vector(w);
      if (b.defined()) layer.bias = to_vector(b);
      layer.type = "Linear";
      return true;
    }
    if (s == "batch_norm") {
      // batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
      if (arg(node, 5).toBool()) {
        layer.note = "BatchNorm in training mode (batch statistics): save the model after model.eval()";
        return false;
      }
      for (std::size_t i = 1; i <= 4; ++i)
        if (!constant(i)) return false;
      const std::vector<double> mean = values(arg(node, 3)), var = values(arg(node, 4));
      if (mean.empty() || var.size() != mean.size()) return false;
      std::vector<double> gamma = values(arg(node, 1)), beta = values(arg(node, 2));
      const double eps = arg(node, 7).toDouble();
      layer.kind = LayerKind::batch_norm;
      layer.eps = eps;
      for (std::size_t c = 0; c < mean.size(); ++c) {
        const double scale = (gamma.empty() ? 1.0 : gamma[c]) / std::sqrt(var[c] + eps);
        layer.scale.push_back(scale);
        layer.bias.push_back((beta.empty() ? 0.0 : beta[c]) - mean[c] * scale);
      }
      layer.type = x.dim() == 4 ? "BatchNorm2d" : "BatchNorm1d";
      return true;
    }
    if (s == "layer_norm") {
      if (!constant(2) || !constant(3)) return false;
      layer.kind = LayerKind::layer_norm;
      const auto shape = ints(1);
      layer.normalized_shape.assign(shape.begin(), shape.end());
      layer.scale = values(arg(node, 2));
      layer.bias = values(arg(node, 3));
      layer.eps = arg(node, 4).toDouble();
      layer.type = "LayerNorm";
      return true;
    }
    if (describe_activation(node, s, layer)) return true;
    if (s == "max_pool1d" || s == "max_pool2d") {
      // max_pool(x, kernel, stride, padding, dilation, ceil_mode)
      const int dims = s == "max_pool1d" ? 1 : 2;
      PoolParams& p = layer.pool;
      p.spatial_dims = dims;
      p.kernel = extent_of(ints(1), dims, 1);
      p.stride = ints(2).empty() ? p.kernel : extent_of(ints(2), dims, 1);
      p.padding = extent_of(ints(3), dims, 0);
      p.dilation = extent_of(ints(4), dims, 1);
      p.ceil_mode = arg(node, 5).toBool();
      layer.kind = LayerKind::max_pool;
      layer.type = dims == 1 ? "MaxPool1d" : "MaxPool2d";
      return true;
    }
    if (s == "avg_pool1d" || s == "avg_pool2d" || s == "adaptive_avg_pool1d" ||
        s == "adaptive_avg_pool2d") {
      const int dims = s == "avg_pool1d" || s == "adaptive_avg_pool1d" ? 1 : 2;
      PoolParams p;
      p.spatial_dims = dims;
      if (s.rfind("adaptive", 0) == 0) {
        // Adaptive pooling to an output size that divides the input is plain pooling with
        // kernel = stride = input / output.
        const Extent out = extent_of(ints(1), dims, 1);
        const Extent in = dims == 1 ? Extent{1, x.size(2)} : Extent{x.size(2), x.size(3)};
        for (int d = 2 - dims; d < 2; ++d) {
          if (out[d] <= 0 || in[d] % out[d] != 0) return false;
          p.kernel[d] = p.stride[d] = in[d] / out[d];
        }
      } else {
        p.kernel = extent_of(ints(1), dims, 1);
        p.stride = ints(2).empty() ? p.kernel : extent_of(ints(2), dims, 1);
        p.padding = extent_of(ints(3), dims, 0);
        p.ceil_mode = arg(node, 4).toBool();
        p.count_include_pad = arg(node, 5).toBool();
        if (dims == 2 && n_in > 6 && !arg(node, 6).isNone()) p.divisor = arg(node, 6).toInt();
      }
      try {
        Layer pool = avg_pool_layer(p, x.size(1));
        pool.inputs = layer.inputs;
        layer = std::move(pool);
      } catch (const std::invalid_argument& e) {
        layer.note = e.what();
        return false;
      }
      return true;
    }
    if (s == "flatten" || s == "view" || s == "reshape" || s == "squeeze" || s == "unsqueeze" ||
        s == "contiguous" || s == "clone" || s == "detach" || s == "to" || s == "type_as" ||
        s == "dropout" || s == "feature_dropout" || s == "alpha_dropout" ||
        s == "feature_alpha_dropout") {
      if (s.find("dropout") != std::string::npos && arg(node, 2).toBool()) {
        layer.note = "dropout in training mode";
        return false;
      }
      const at::Tensor& out = current_;
      if (out.dim() == 0 || out.size(0) != x.size(0) || out.scalar_type() != x.scalar_type())
        return false;  // mixes samples of the batch, or changes precision
      layer.kind = LayerKind::reshape;
      layer.output_shape.assign(out.sizes().begin() + 1, out.sizes().end());
      layer.type = s == "flatten" ? "Flatten" : s.find("dropout") != std::string::npos ? "Dropout"
                 : s == "view" || s == "reshape" ? "Reshape" : s == "squeeze" ? "Squeeze"
                 : s == "unsqueeze" ? "Unsqueeze" : "Identity";
      return true;
    }
    if (s == "add" || s == "sub" || s == "rsub") {
      const double alpha = n_in > 2 && !arg(node, 2).isNone() ? arg(node, 2).toScalar().toDouble() : 1.0;
      const double sign = s == "add" ? 1 : -1;
      if (dep(node, 0) >= 0 && dep(node, 1) >= 0 && s != "rsub") {
        layer.kind = LayerKind::add;
        layer.inputs = {dep(node, 0), dep(node, 1)};
        layer.coefficients = {1, sign * alpha};
        layer.type = s == "add" ? "Add" : "Sub";
        return true;
      }
      if (dep(node, 0) < 0 || dep(node, 1) >= 0) return false;
      const c10::IValue& other = arg(node, 1);
      const at::Tensor c = other.isTensor() ? other.toTensor().to(at::kDouble)
                                            : at::scalar_tensor(other.toScalar().toDouble(), at::kDouble);
      layer.kind = LayerKind::affine;
      if (s == "rsub") {  // other − alpha·x
        layer.affine_scale = to_constant(at::scalar_tensor(-alpha, at::kDouble));
        layer.affine_offset = to_constant(c);
      } else {
        layer.affine_offset = to_constant(c * (sign * alpha));
      }
      layer.type = "Bias";
      return true;
    }
    if (s == "mul" || s == "div" || s == "neg") {
      layer.kind = LayerKind::affine;
      layer.type = "Scale";
      if (s == "neg") {
        layer.affine_scale = to_constant(at::scalar_tensor(-1.0, at::kDouble));
        return true;
      }
      if (n_in > 2) return false;  // div with a rounding mode is not linear
      const int which = dep(node, 0) >= 0 ? 1 : 0;
      if (dep(node, which) >= 0 || (s == "div" && which == 0)) return false;
      const c10::IValue& other = arg(node, which);
      at::Tensor c = other.isTensor() ? other.toTensor().to(at::kDouble)
                                      : at::scalar_tensor(other.toScalar().toDouble(), at::kDouble);
      if (s == "div") c = 1.0 / c;
      layer.inputs = {dep(node, 1 - which)};
      layer.affine_scale = to_constant(c);
      return true;
    }
    if (s == "constant_pad_nd" || s == "pad" || s == "reflection_pad1d" ||
        s == "reflection_pad2d" || s == "replication_pad1d" || s == "replication_pad2d" ||
        s == "_pad_circular") {
      const auto pad = ints(1);
      const int dims = static_cast<int>(x.dim()) - 2;
      if (dims < 1 || dims > 2 || pad.size() != static_cast<std::size_t>(2 * dims)) return false;
      if (s == "constant_pad_nd" && arg(node, 2).toScalar().toDouble() != 0) return false;
      std::string mode = s == "_pad_circular" ? "circular"
                         : s.rfind("reflection", 0) == 0 ? "reflect"
                         : s.rfind("replication", 0) == 0 ? "replicate" : "constant";
      if (s == "pad") {
        mode = arg(node, 2).toStringRef();
        if (mode == "constant" && n_in > 3 && !arg(node, 3).isNone() && arg(node, 3).toDouble() != 0)
          return false;
      }
      layer.kind = LayerKind::pad;
      layer.pad_mode = mode == "circular" ? PadMode::circular : mode == "reflect" ? PadMode::reflect
                       : mode == "replicate" ? PadMode::replicate : PadMode::zeros;
      if (mode != "constant" && mode != "circular" && mode != "reflect" && mode != "replicate") return false;
      for (int64_t v : pad)
        if (v < 0) return false;  // cropping
      // ATen lists the last dimension first.
      layer.pads = dims == 2 ? std::array<Index, 4>{pad[2], pad[3], pad[0], pad[1]}
                             : std::array<Index, 4>{0, 0, pad[0], pad[1]};
      layer.type = "Pad(" + to_string(layer.pad_mode) + ")";
      return true;
    }
    return false;
  }

  bool describe_activation(Node* node, const std::string& s, Layer& layer) {
    static const std::unordered_map<std::string, Activation> simple{
        {"relu", Activation::relu},     {"silu", Activation::silu},
        {"tanh", Activation::tanh},     {"sigmoid", Activation::sigmoid}};
    layer.kind = LayerKind::activation;
    if (simple.count(s)) {
      layer.activation = simple.at(s);
    } else if (s == "leaky_relu") {
      layer.activation = Activation::leaky_relu;
      layer.parameter = arg(node, 1).toScalar().toDouble();
    } else if (s == "elu") {
      // elu(x, alpha, scale, input_scale): nn.ELU has scale = input_scale = 1 (SELU does not).
      if (arg(node, 2).toScalar().toDouble() != 1 || arg(node, 3).toScalar().toDouble() != 1) {
        layer.kind = LayerKind::unknown;
        return false;
      }
      layer.activation = Activation::elu;
      layer.parameter = arg(node, 1).toScalar().toDouble();
    } else if (s == "gelu") {
      const bool tanh = node->inputs().size() > 1 && arg(node, 1).isString() &&
                        arg(node, 1).toStringRef() == "tanh";
      layer.activation = tanh ? Activation::gelu_tanh : Activation::gelu;
    } else if (s == "softplus") {
      layer.activation = Activation::softplus;
      layer.parameter = arg(node, 1).toScalar().toDouble();
      layer.parameter2 = arg(node, 2).toScalar().toDouble();
    } else if (s == "hardtanh" || s == "relu6") {
      layer.activation = Activation::hardtanh;
      layer.parameter = s == "relu6" ? 0.0 : arg(node, 1).toScalar().toDouble();
      layer.parameter2 = s == "relu6" ? 6.0 : arg(node, 2).toScalar().toDouble();
    } else {
      layer.kind = LayerKind::unknown;
      return false;
    }
    layer.type = to_string(layer.activation);
    if (s == "relu6") layer.type = "ReLU6";
    return true;
  }

  std::string path_;
  NetworkBuilder& builder_;
  std::unordered_map<const Value*, Entry> env_;
  std::unordered_map<const Value*, std::vector<Entry>> aggregates_;
  at::Tensor current_;  // the model's output for the node being described
  std::map<std::string, int> name_counts_;
};

// The sizes a convolutional model is tried at when its file does not say.
const std::vector<Index> kCandidateSides{8, 16, 28, 32, 48, 64, 96, 128, 224, 256};

at::Tensor random_batch(const Shape& shape, int64_t batch = 2) {
  std::vector<int64_t> sizes{batch};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  return at::randn(sizes);
}

// TorchScript does not record the input shape. The first parameter's shape says how many
// channels (or features) the model takes; the spatial size is the one candidate it accepts.
Shape infer_input_shape(const std::string& path, torch::jit::Module& module) {
  at::Tensor first;
  for (const at::Tensor& p : module.parameters()) {
    first = p;
    break;
  }
  const std::string ask = ": TorchScript files do not record their input shape";
  if (!first.defined() || first.dim() < 2 || first.dim() > 4)
    throw ImportError(path + ask + "; pass --input-shape");
  std::vector<Shape> candidates;
  if (first.dim() == 2) candidates.push_back({first.size(1)});
  for (Index side : kCandidateSides) {
    if (first.dim() == 3) candidates.push_back({first.size(1), side * 4});
    if (first.dim() == 4) candidates.push_back({first.size(1), side, side});
  }
  std::vector<Shape> accepted;
  torch::NoGradGuard no_grad;
  for (const Shape& shape : candidates) {
    try {
      module.forward({random_batch(shape)});
      accepted.push_back(shape);
    } catch (const std::exception&) {
    }
  }
  if (accepted.size() == 1) return accepted[0];
  if (accepted.empty())
    throw ImportError(path + ask + ", and it accepts none of the usual sizes; pass --input-shape");
  throw ImportError(path + ask + ", and it accepts several (" + shape_string(accepted[0]) + ", " +
                    shape_string(accepted[1]) + ", …); pass --input-shape");
}

}  // namespace

ImportedModel import_torchscript(const std::string& path, const std::optional<Shape>& input_shape) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, c10::Device(c10::kCPU));
  } catch (const c10::Error& e) {
    throw ImportError(path + ": not a TorchScript model, or corrupt (" +
                      error_summary(e.what_without_backtrace()) + ")");
  }
  if (!module.find_method("forward"))
    throw ImportError(path + ": a TorchScript archive without a forward method (not a model)");
  module.eval();

  ImportedModel model;
  model.format = "torchscript";
  if (input_shape) {
    model.input_shape = *input_shape;
    model.input_shape_source = "--input-shape";
  } else {
    model.input_shape = infer_input_shape(path, module);
    model.input_shape_source = "inferred (the only usual size the model accepts)";
  }
  // The model must run at that shape at all before we look inside it.
  const at::Tensor example = random_batch(model.input_shape);
  try {
    torch::NoGradGuard no_grad;
    const c10::IValue out = module.forward({example});
    if (!out.isTensor())
      throw ImportError(path + ": forward returns a " + out.tagKind() +
                        ", not a tensor; only single-tensor outputs can be analysed");
  } catch (const ImportError&) {
    throw;
  } catch (const c10::Error& e) {
    throw ImportError(path + ": the model does not run on inputs of shape " +
                      shape_string(model.input_shape) + " (" + error_summary(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {  // the TorchScript interpreter's own errors
    throw ImportError(path + ": the model does not run on inputs of shape " +
                      shape_string(model.input_shape) + " (" + error_summary(e.what()) + ")");
  }

  std::shared_ptr<torch::jit::Graph> graph = module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  NetworkBuilder builder(model.input_shape, example);
  int output = 0;
  {
    torch::NoGradGuard no_grad;
    Interpreter interpreter(path, builder);
    try {
      output = interpreter.run(module, *graph);
    } catch (const c10::Error& e) {
      throw ImportError(path + ": cannot follow the model's graph (" +
                        error_summary(e.what_without_backtrace()) + ")");
    }
  }
  model.network = merge_circular_padding(std::move(builder).finish(output));
  // The description, run on a fresh batch of another size, must be the model: this catches
  // what the layer-by-layer check cannot, such as in-place aliasing, or data of the example
  // batch baked into a value we took for a constant. Only the layers the output depends on
  // are run; if one of them is not understood the bound is not certified anyway.
  const Network& network = model.network;
  std::vector<bool> needed(network.layers.size(), false);
  needed[network.output] = true;
  bool runnable = true;
  for (int i = network.output; i > 0; --i)
    if (needed[i]) {
      runnable &= network.layers[i].kind != LayerKind::unknown;
      for (int input : network.layers[i].inputs) needed[input] = true;
    }
  if (runnable) {
    torch::NoGradGuard no_grad;
    const at::Tensor fresh = random_batch(model.input_shape, 3);
    std::vector<at::Tensor> values(network.layers.size());
    values[0] = fresh;
    for (std::size_t i = 1; i < network.layers.size(); ++i) {
      if (!needed[i]) continue;
      std::vector<at::Tensor> inputs;
      for (int input : network.layers[i].inputs) inputs.push_back(values[input]);
      values[i] = run_layer(network.layers[i], inputs);
    }
    const at::Tensor theirs = module.forward({fresh}).toTensor();
    if (!theirs.isfinite().all().item<bool>())
      throw ImportError(path + ": the model's own output on a random input is not finite (inf or "
                        "NaN): are its weights finite and within their dtype's range?");
    if (!agree(values[network.output], theirs))
      throw ImportError(path + ": the layers read from the model do not reproduce its output on "
                        "a new input (max difference " +
                        std::to_string(max_difference(values[network.output], theirs)) +
                        "): it computes something this tool cannot follow (an in-place update "
                        "of a tensor read again later, or data of one input kept for the next)");
  }
  model.forward = [module](const at::Tensor& x) mutable { return module.forward({x}).toTensor(); };
  torch::jit::Module in_double = module.clone();
  in_double.to(at::kDouble);
  model.forward_double = [in_double](const at::Tensor& x) mutable {
    return in_double.forward({x}).toTensor();
  };
  return model;
}

}  // namespace lipschitz::report
