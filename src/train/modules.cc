#include "edgeroute/train/modules.h"

#include <ATen/ops/scaled_dot_product_attention.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

#include <algorithm>
#include <limits>
#include <string>
#include <string_view>

#include "edgeroute/common/error.h"

namespace edgeroute::train {

namespace F = torch::nn::functional;
using modelio::Architecture;
using modelio::EncoderConfig;

namespace {

bool is_bert(const EncoderConfig& c) { return c.arch == Architecture::kBert; }

// A float field of config.json; `fallback` when absent or null.
double read_rate(const EncoderConfig& c, const char* field, double fallback, double hi) {
  const nlohmann::json& raw = c.raw;
  if (!raw.is_object() || !raw.contains(field) || raw[field].is_null()) return fallback;
  if (!raw[field].is_number()) {
    throw Error("config.json: field '" + std::string(field) + "' is " + raw[field].dump() +
                ", not a number");
  }
  const double v = raw[field].get<double>();
  if (!(v >= 0.0 && v < hi)) {
    throw Error("config.json: field '" + std::string(field) + "' is " + std::to_string(v) +
                ", outside [0, " + std::to_string(hi) + ")");
  }
  return v;
}

torch::nn::LayerNorm make_norm(const EncoderConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

torch::nn::Linear make_linear(std::int64_t in, std::int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out));
}

// The additive value HF puts on padded keys: the dtype's lowest finite value.
double masked_key_bias(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat: return std::numeric_limits<float>::lowest();
    case torch::kDouble: return std::numeric_limits<double>::lowest();
    case torch::kHalf: return static_cast<float>(std::numeric_limits<c10::Half>::lowest());
    case torch::kBFloat16: return static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest());
    default: throw Error(std::string("encoder: unsupported activation dtype ") + c10::toString(dtype));
  }
}

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

}  // namespace

const char* task_name(Task task) {
  switch (task) {
    case Task::kEncoder: return "encoder";
    case Task::kMaskedLm: return "masked-lm";
    case Task::kSequenceClassification: return "sequence-classification";
  }
  return "unknown";
}

TrainHyperConfig read_train_hyper_config(const EncoderConfig& c) {
  TrainHyperConfig h;
  if (is_bert(c)) {
    h.hidden_dropout = read_rate(c, "hidden_dropout_prob", 0.1, 1.0);
    h.attention_dropout = read_rate(c, "attention_probs_dropout_prob", 0.1, 1.0);
    h.classifier_dropout = read_rate(c, "classifier_dropout", h.hidden_dropout, 1.0);
  } else {
    h.hidden_dropout = read_rate(c, "dropout", 0.1, 1.0);
    h.attention_dropout = read_rate(c, "attention_dropout", 0.1, 1.0);
    h.classifier_dropout = read_rate(c, "seq_classif_dropout", 0.2, 1.0);
  }
  h.initializer_range = read_rate(c, "initializer_range", 0.02, 10.0);
  return h;
}

EmbeddingsImpl::EmbeddingsImpl(const EncoderConfig& c, const TrainHyperConfig& hyper) {
  auto word_options = torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size);
  // HF builds word embeddings with padding_idx: the pad row gets no gradient.
  if (c.pad_token_id >= 0) word_options.padding_idx(c.pad_token_id);
  word = register_module("word", torch::nn::Embedding(word_options));
  position = register_module(
      "position", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.max_position_embeddings, c.hidden_size)));
  // DistilBERT's sinusoidal table is fixed, as in HF.
  if (c.sinusoidal_pos_embds) position->weight.set_requires_grad(false);
  if (is_bert(c)) {
    token_type = register_module(
        "token_type", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.type_vocab_size, c.hidden_size)));
  }
  norm = register_module("norm", make_norm(c));
  dropout = register_module("dropout", torch::nn::Dropout(hyper.hidden_dropout));
}

torch::Tensor EmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  const std::int64_t seq_len = input_ids.size(1);
  if (seq_len > position->weight.size(0)) {
    throw Error("encoder: sequence length " + std::to_string(seq_len) + " exceeds max_position_embeddings " +
                std::to_string(position->weight.size(0)));
  }
  const torch::Tensor positions =
      torch::arange(seq_len, torch::TensorOptions().dtype(torch::kLong).device(input_ids.device()));
  torch::Tensor x = word(input_ids) + position(positions).unsqueeze(0);
  if (!token_type.is_empty()) {
    x = token_type_ids.defined() ? x + token_type(token_type_ids)
                                 : x + token_type->weight[0];  // all-zero token types
  }
  return dropout(norm(x));
}

SelfAttentionImpl::SelfAttentionImpl(const EncoderConfig& c, const TrainHyperConfig& hyper)
    : num_heads_(c.num_heads), attention_dropout_(hyper.attention_dropout) {
  q = register_module("q", make_linear(c.hidden_size, c.hidden_size));
  k = register_module("k", make_linear(c.hidden_size, c.hidden_size));
  v = register_module("v", make_linear(c.hidden_size, c.hidden_size));
  o = register_module("o", make_linear(c.hidden_size, c.hidden_size));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& key_bias) {
  const std::int64_t batch = x.size(0);
  const std::int64_t seq_len = x.size(1);
  const std::int64_t hidden = x.size(2);
  const std::int64_t head_dim = hidden / num_heads_;
  const auto split_heads = [&](const torch::Tensor& t) {
    return t.view({batch, seq_len, num_heads_, head_dim}).transpose(1, 2);
  };
  // The fused kernel computes softmax(q·kᵀ/√d + bias)·v, HF's eager formula,
  // without materialising the probabilities when it can.
  const torch::Tensor context =
      at::scaled_dot_product_attention(split_heads(q(x)), split_heads(k(x)), split_heads(v(x)), key_bias,
                                       is_training() ? attention_dropout_ : 0.0);
  return o(context.transpose(1, 2).reshape({batch, seq_len, hidden}));
}

FeedForwardImpl::FeedForwardImpl(const EncoderConfig& c) {
  up = register_module("up", make_linear(c.hidden_size, c.intermediate_size));
  down = register_module("down", make_linear(c.intermediate_size, c.hidden_size));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  return down(F::gelu(up(x), F::GELUFuncOptions().approximate("none")));
}

EncoderLayerImpl::EncoderLayerImpl(const EncoderConfig& c, const TrainHyperConfig& hyper) {
  attn = register_module("attn", SelfAttention(c, hyper));
  attn_norm = register_module("attn_norm", make_norm(c));
  ffn = register_module("ffn", FeedForward(c));
  ffn_norm = register_module("ffn_norm", make_norm(c));
  attn_dropout = register_module("attn_dropout", torch::nn::Dropout(is_bert(c) ? hyper.hidden_dropout : 0.0));
  ffn_dropout = register_module("ffn_dropout", torch::nn::Dropout(hyper.hidden_dropout));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& key_bias) {
  const torch::Tensor h = attn_norm(x + attn_dropout(attn(x, key_bias)));
  return ffn_norm(h + ffn_dropout(ffn(h)));
}

MaskedLmHeadImpl::MaskedLmHeadImpl(const EncoderConfig& c) {
  transform = register_module("transform", make_linear(c.hidden_size, c.hidden_size));
  norm = register_module("norm", make_norm(c));
  bias = register_parameter("bias", torch::zeros({c.vocab_size}));
}

torch::Tensor MaskedLmHeadImpl::forward(const torch::Tensor& hidden, const torch::Tensor& word_weight) {
  const torch::Tensor h = norm(F::gelu(transform(hidden), F::GELUFuncOptions().approximate("none")));
  return F::linear(h, word_weight, bias);
}

ClassifierHeadImpl::ClassifierHeadImpl(const EncoderConfig& c, const TrainHyperConfig& hyper,
                                       std::int64_t num_labels) {
  if (!is_bert(c)) pre = register_module("pre", make_linear(c.hidden_size, c.hidden_size));
  out = register_module("out", make_linear(c.hidden_size, num_labels));
  dropout = register_module("dropout", torch::nn::Dropout(hyper.classifier_dropout));
}

torch::Tensor ClassifierHeadImpl::forward(const torch::Tensor& features) {
  if (pre.is_empty()) return out(dropout(features));
  return out(dropout(torch::relu(pre(features))));
}

EncoderModelImpl::EncoderModelImpl(EncoderConfig config, Task task, bool with_pooler,
                                   torch::Generator generator)
    : config_(std::move(config)), hyper_(read_train_hyper_config(config_)), task_(task) {
  const EncoderConfig& c = config_;
  if (task == Task::kSequenceClassification && c.labels.empty()) {
    throw Error("encoder: a sequence-classification model needs class labels (config id2label)");
  }
  embeddings = register_module("embeddings", Embeddings(c, hyper_));
  layers = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.num_layers; ++i) layers->push_back(EncoderLayer(c, hyper_));
  // As HF's classes: BertForMaskedLM has no pooler, BertForSequenceClassification needs one.
  if (is_bert(c) && (task == Task::kSequenceClassification || (task == Task::kEncoder && with_pooler))) {
    pooler = register_module("pooler", make_linear(c.hidden_size, c.hidden_size));
  }
  if (task == Task::kSequenceClassification) {
    head = register_module("head", ClassifierHead(c, hyper_, c.labels.size()));
  }
  if (task == Task::kMaskedLm) mlm = register_module("mlm", MaskedLmHead(c));
  init_parameters(*this, hyper_.initializer_range, c.pad_token_id, generator);
}

torch::Tensor EncoderModelImpl::encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                       const torch::Tensor& token_type_ids,
                                       std::vector<torch::Tensor>* hidden_states) {
  if (input_ids.dim() != 2 || attention_mask.sizes() != input_ids.sizes()) {
    throw Error("encoder: input_ids must be [batch, seq] and attention_mask the same shape");
  }
  torch::Tensor x = embeddings(input_ids, token_type_ids);
  if (hidden_states != nullptr) hidden_states->push_back(x);
  const std::int64_t batch = input_ids.size(0);
  const std::int64_t seq_len = input_ids.size(1);
  const torch::Tensor key_bias =
      torch::zeros({batch, 1, 1, seq_len}, x.options())
          .masked_fill(attention_mask.view({batch, 1, 1, seq_len}) == 0, masked_key_bias(x.scalar_type()));
  for (std::size_t i = 0; i < layers->size(); ++i) {
    x = layers->ptr<EncoderLayerImpl>(i)->forward(x, key_bias);
    if (hidden_states != nullptr) hidden_states->push_back(x);
  }
  return x;
}

torch::Tensor EncoderModelImpl::pool(const torch::Tensor& last_hidden) {
  if (pooler.is_empty()) throw Error("encoder: this model has no pooler");
  return torch::tanh(pooler(last_hidden.select(1, 0)));
}

torch::Tensor EncoderModelImpl::classify(const torch::Tensor& last_hidden) {
  if (head.is_empty()) {
    throw Error(std::string("encoder: classification asked of a ") + task_name(task_) + " model");
  }
  return head(is_bert(config_) ? pool(last_hidden) : last_hidden.select(1, 0));
}

torch::Tensor EncoderModelImpl::mlm_logits(const torch::Tensor& hidden) {
  if (mlm.is_empty()) throw Error(std::string("encoder: MLM logits asked of a ") + task_name(task_) + " model");
  return mlm(hidden, embeddings->word->weight);
}

ForwardOutput EncoderModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                        const ForwardOptions& options) {
  ForwardOutput out;
  out.last_hidden = encode(input_ids, attention_mask, {}, options.all_hidden_states ? &out.hidden_states : nullptr);
  if (options.pooled) out.pooled = pool(out.last_hidden);
  if (options.head && task_ == Task::kSequenceClassification) {
    out.logits = is_bert(config_) && out.pooled.defined() ? head(out.pooled) : classify(out.last_hidden);
  } else if (options.head && task_ == Task::kMaskedLm) {
    out.logits = mlm_logits(out.last_hidden);
  }
  return out;
}

void init_parameters(EncoderModelImpl& model, double std, std::int64_t pad_token_id, torch::Generator& generator,
                     const std::vector<std::string>& select) {
  const torch::NoGradGuard no_grad;
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    if (!select.empty() && std::find(select.begin(), select.end(), name) == select.end()) continue;
    torch::Tensor p = item.value();
    if (ends_with(name, "bias")) {
      p.zero_();
    } else if (ends_with(name, "norm.weight")) {
      p.fill_(1.0);
    } else {
      p.normal_(0.0, std, generator);
      if (name == "embeddings.word.weight" && pad_token_id >= 0 && pad_token_id < p.size(0)) p[pad_token_id].zero_();
    }
  }
}

}  // namespace edgeroute::train
