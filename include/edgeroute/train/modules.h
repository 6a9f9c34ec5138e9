// BERT and DistilBERT encoders as libtorch (C++ frontend) modules whose
// forward matches Hugging Face transformers' BertModel / DistilBertModel and
// their *ForMaskedLM and *ForSequenceClassification heads (tests/train checks
// every layer, the pooler and both heads against HF within 1e-4).
//
// Parameter names are edgeroute's canonical tensor names
// (edgeroute/modelio/tensor_names.h): EncoderModel::named_parameters() yields
// exactly "embeddings.word.weight", "layers.0.attn.q.weight", "pooler.weight",
// "head.out.bias", "mlm.norm.weight", ... so loading and saving are a rename
// through the one name table. The MLM decoder has no parameter of its own: it
// is tied to embeddings.word.weight, as in HF (tie_word_embeddings).
//
// Architecture (post-LN, as HF):
//   BERT:       x = LN(word[id] + position[t] + token_type[type])
//   DistilBERT: x = LN(word[id] + position[t])
//   each layer: x = LN(x + Wo·attn(x)); x = LN(x + down(gelu_erf(up(x))))
//   attention:  softmax(q·kᵀ/√d + bias) · v with bias = 0 for real keys and
//               the float32 minimum for padded keys (HF's additive mask)
//   BERT pooler:            tanh(W·x[:,0] + b)
//   BERT classifier:        out(dropout(pooler))
//   DistilBERT classifier:  out(dropout(relu(pre(x[:,0]))))
//   MLM head:               LN(gelu_erf(transform(x)))·wordᵀ + bias
// Dropout rates come from config.json; dropout is active only in train().
//
// Thread-safety: a module in eval() mode may run forward from several threads
// at once (it reads its parameters only); training is single-caller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include "edgeroute/modelio/hf_config.h"

namespace edgeroute::train {

// Which head sits on the encoder; decides the HF class a saved checkpoint
// declares (BertModel, BertForMaskedLM, BertForSequenceClassification and
// the DistilBert counterparts).
enum class Task { kEncoder, kMaskedLm, kSequenceClassification };

// "encoder", "masked-lm" or "sequence-classification", for messages.
const char* task_name(Task task);

// Dropout probabilities and initialisation scale read from config.json's raw
// JSON with transformers' defaults (BERT: hidden_dropout_prob 0.1,
// attention_probs_dropout_prob 0.1, classifier_dropout null = hidden;
// DistilBERT: dropout 0.1, attention_dropout 0.1, seq_classif_dropout 0.2;
// both: initializer_range 0.02). A present field of the wrong type or a rate
// outside [0, 1) is an Error naming the field.
struct TrainHyperConfig {
  double hidden_dropout = 0.1;
  double attention_dropout = 0.1;
  double classifier_dropout = 0.1;
  double initializer_range = 0.02;
};
TrainHyperConfig read_train_hyper_config(const modelio::EncoderConfig& config);

class EmbeddingsImpl : public torch::nn::Module {
 public:
  EmbeddingsImpl(const modelio::EncoderConfig& config, const TrainHyperConfig& hyper);
  // input_ids [B,T] int64 with T <= max_position_embeddings; token_type_ids
  // [B,T] int64 or undefined (all zeros; ignored by DistilBERT). Returns [B,T,H].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);

  torch::nn::Embedding word{nullptr};
  torch::nn::Embedding position{nullptr};
  torch::nn::Embedding token_type{nullptr};  // BERT only
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Embeddings);

class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(const modelio::EncoderConfig& config, const TrainHyperConfig& hyper);
  // x [B,T,H]; key_bias [B,1,1,T] float (0 real key, float min padded key).
  // Returns o(attention(x)) [B,T,H].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias);

  torch::nn::Linear q{nullptr};
  torch::nn::Linear k{nullptr};
  torch::nn::Linear v{nullptr};
  torch::nn::Linear o{nullptr};

 private:
  std::int64_t num_heads_;
  double attention_dropout_;
};
TORCH_MODULE(SelfAttention);

class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(const modelio::EncoderConfig& config);
  // x [B,T,H] -> down(gelu_erf(up(x))) [B,T,H].
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear up{nullptr};
  torch::nn::Linear down{nullptr};
};
TORCH_MODULE(FeedForward);

class EncoderLayerImpl : public torch::nn::Module {
 public:
  EncoderLayerImpl(const modelio::EncoderConfig& config, const TrainHyperConfig& hyper);
  // x [B,T,H], key_bias as SelfAttention. Returns [B,T,H].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_bias);

  SelfAttention attn{nullptr};
  torch::nn::LayerNorm attn_norm{nullptr};
  FeedForward ffn{nullptr};
  torch::nn::LayerNorm ffn_norm{nullptr};
  // BERT applies dropout to the attention output before the residual
  // (DistilBERT does not: rate 0); both after the feed-forward block.
  torch::nn::Dropout attn_dropout{nullptr};
  torch::nn::Dropout ffn_dropout{nullptr};
};
TORCH_MODULE(EncoderLayer);

// HF BertOnlyMLMHead / DistilBERT vocab_transform + vocab_layer_norm +
// vocab_projector. The decoder weight is passed in (tied word embeddings).
class MaskedLmHeadImpl : public torch::nn::Module {
 public:
  MaskedLmHeadImpl(const modelio::EncoderConfig& config);
  // hidden [..., H], word_weight [V,H] -> logits [..., V].
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& word_weight);

  torch::nn::Linear transform{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor bias;  // [V]
};
TORCH_MODULE(MaskedLmHead);

// Sequence-classification head in HF layout: `out` is HF's classifier,
// `pre` DistilBERT's pre_classifier (absent for BERT, whose input is the
// pooler output).
class ClassifierHeadImpl : public torch::nn::Module {
 public:
  ClassifierHeadImpl(const modelio::EncoderConfig& config, const TrainHyperConfig& hyper,
                     std::int64_t num_labels);
  // features [B,H]: BERT's pooler output, DistilBERT's [CLS] hidden state.
  // Returns logits [B,L].
  torch::Tensor forward(const torch::Tensor& features);

  torch::nn::Linear pre{nullptr};  // DistilBERT only
  torch::nn::Linear out{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ClassifierHead);

// What EncoderModel::forward computes besides the last hidden state.
struct ForwardOptions {
  bool all_hidden_states = false;  // fill ForwardOutput::hidden_states
  bool pooled = false;             // BERT pooler output (needs a pooler)
  bool head = true;                // the task head's logits (none for kEncoder)
};

struct ForwardOutput {
  // Embedding output then every layer's output: num_layers + 1 tensors
  // [B,T,H], when ForwardOptions::all_hidden_states; else empty.
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor last_hidden;  // [B,T,H]
  torch::Tensor pooled;       // [B,H], or undefined
  // kSequenceClassification: [B,L]; kMaskedLm: [B,T,V]; else undefined.
  torch::Tensor logits;
};

// An encoder with at most one task head. Built with HF's initialisation
// (Linear and Embedding weights normal(0, initializer_range), biases 0,
// LayerNorm 1/0, the embedding row of pad_token_id 0) drawn from `generator`;
// checkpoint.h then overwrites what a checkpoint provides.
class EncoderModelImpl : public torch::nn::Module {
 public:
  // config.labels gives the classifier's size for kSequenceClassification
  // (Error when empty). The pooler follows HF's classes: a BERT encoder has
  // one when `with_pooler`, a BERT classifier always, a masked-LM model and
  // DistilBERT never.
  EncoderModelImpl(modelio::EncoderConfig config, Task task, bool with_pooler,
                   torch::Generator generator);

  // input_ids [B,T] int64, attention_mask [B,T] (1 real token, 0 padding;
  // any integer or bool dtype), token_type_ids [B,T] int64 or undefined.
  // All on the module's device. Returns the last hidden state [B,T,H];
  // with `hidden_states`, also appends the num_layers + 1 intermediate ones.
  // Padded positions hold values, as in HF; callers mask them.
  torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& token_type_ids = {},
                       std::vector<torch::Tensor>* hidden_states = nullptr);
  // BERT pooler on last_hidden [B,T,H] -> [B,H]. Error when there is none.
  torch::Tensor pool(const torch::Tensor& last_hidden);
  // Classifier logits [B,L] from last_hidden [B,T,H]. Error unless kSequenceClassification.
  torch::Tensor classify(const torch::Tensor& last_hidden);
  // MLM logits [..., V] from hidden [..., H] (e.g. only the masked positions,
  // [N,H]). Error unless kMaskedLm.
  torch::Tensor mlm_logits(const torch::Tensor& hidden);

  ForwardOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const ForwardOptions& options = {});

  const modelio::EncoderConfig& config() const { return config_; }
  const TrainHyperConfig& hyper() const { return hyper_; }
  Task task() const { return task_; }
  bool has_pooler() const { return !pooler.is_empty(); }

  Embeddings embeddings{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::Linear pooler{nullptr};  // BERT only, when present
  ClassifierHead head{nullptr};       // kSequenceClassification only
  MaskedLmHead mlm{nullptr};          // kMaskedLm only

 private:
  modelio::EncoderConfig config_;
  TrainHyperConfig hyper_;
  Task task_;
};
TORCH_MODULE(EncoderModel);

// HF's _init_weights for every parameter of `module` whose canonical name is
// accepted by `select` (all when empty): Linear/Embedding weights
// normal(0, std), biases and mlm.bias 0, LayerNorm weight 1 / bias 0, and the
// pad_token_id row of embeddings.word.weight 0. Names are those of
// EncoderModel::named_parameters().
void init_parameters(EncoderModelImpl& model, double std, std::int64_t pad_token_id,
                     torch::Generator& generator,
                     const std::vector<std::string>& select = {});

}  // namespace edgeroute::train
