"""Every architecture of the book as a ModelSpec: metadata only, no torch import."""

from __future__ import annotations

from d2ltui.zoo.ssd_anchors import SSD_RATIOS, SSD_SIZES
from d2ltui.zoo.registry import INIT_SCHEMES, Knob, ModelSpec, register

CH_LINEAR = "3-4 Linear networks"
CH_MLP = "5 Multilayer perceptrons"
CH_CNN = "7 Convolutional networks"
CH_MODERN = "8 Modern CNNs"
CH_RNN = "9-10 Recurrent networks"
CH_ENCDEC = "10-11 Encoder-decoder"
CH_ATTN = "11 Attention and Transformers"
CH_OPT = "12 Optimization algorithms"  # labs only
CH_CV = "14 Computer vision"
CH_RL = "17 Reinforcement learning"
CH_GP = "18 Gaussian processes"  # labs only
CH_GAN = "20 Generative adversarial networks"

IMG28 = ((1, 1, 28, 28),)
IMG96 = ((1, 1, 96, 96),)
IMG224 = ((1, 1, 224, 224),)
RGB256 = ((1, 3, 256, 256),)


def _arch_pairs(value: tuple) -> str | None:
    ok = value and all(
        isinstance(p, tuple) and len(p) == 2 and all(isinstance(v, int) and v > 0 for v in p) for p in value
    )
    return None if ok else "expected a tuple of (num_convs, channels) pairs of positive ints, e.g. ((1, 64), (2, 128))"


def _positive_ints(value: tuple) -> str | None:
    ok = value and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    return None if ok else "expected a tuple of positive ints, e.g. (256, 128)"


def _dropout(default: float) -> Knob:
    return Knob("dropout", float, default, "dropout probability", min=0.0, max=0.99)


NORMS = ("none", "batch", "layer")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "gelu")  # zoo/layers.py maps each to its module


def _norm(default: str = "none") -> Knob:
    return Knob("norm", str, default, "normalisation after each conv/dense layer", choices=NORMS)


def _act(default: str = "relu") -> Knob:
    return Knob("activation", str, default, "activation function", choices=ACTIVATIONS)


INIT = Knob("init", str, "default", "weight initialisation (custom: the book's my_init)", choices=INIT_SCHEMES)
CLASSES = Knob("num_classes", int, 10, "output classes", min=1, max=100000)
IN_CH = Knob("in_channels", int, 1, "input channels (1 grey, 3 colour)", min=1, max=64)


def _k(*knobs: Knob) -> dict[str, Knob]:
    return {k.name: k for k in knobs}


def _image(name, chapter, builder, default_input, doc, *extra: Knob) -> None:
    register(ModelSpec(name, chapter, "classification", "image", default_input, builder,
                       _k(CLASSES, IN_CH, INIT, *extra), doc))


# Linear networks
register(ModelSpec(
    "linear-regression", CH_LINEAR, "regression", "features", ((1, 2),), "d2ltui.zoo.linear:linear_regression",
    _k(Knob("in_features", int, 2, "input features", min=1, max=100000), INIT),
    "Linear regression: one dense layer, y = Xw + b (section 3.1)."))
register(ModelSpec(
    "logistic-regression", CH_LINEAR, "classification", "features", ((1, 2),), "d2ltui.zoo.linear:logistic_regression",
    _k(Knob("in_features", int, 2, "input features", min=1, max=100000),
       Knob("num_classes", int, 2, "output classes", min=2, max=100000), INIT),
    "Logistic regression: one dense layer with a softmax/sigmoid cross-entropy loss."))
register(ModelSpec(
    "softmax-regression", CH_LINEAR, "classification", "image", IMG28, "d2ltui.zoo.linear:softmax_regression",
    _k(CLASSES, INIT),
    "Softmax regression: flatten, one dense layer to the classes (section 4.1)."))

# MLP
register(ModelSpec(
    "mlp", CH_MLP, "classification", "image", IMG28, "d2ltui.zoo.mlp:mlp",
    _k(CLASSES, Knob("hidden", tuple, (256,), "hidden layer sizes", check=_positive_ints), _dropout(0.0),
       _norm(), _act(), INIT),
    "Multilayer perceptron: flatten, hidden dense layers with activation and dropout (chapter 5); "
    "on regression data it regresses, with one output per target.", also=("regression",)))

# CNNs
_image("lenet", CH_CNN, "d2ltui.zoo.lenet:lenet", IMG28,
       "LeNet-5: two sigmoid conv + avg-pool stages and three dense layers (LeCun et al., 1998).",
       _act("sigmoid"), _norm("none"), _dropout(0.0))
_image("lenet-bn", CH_CNN, "d2ltui.zoo.lenet:lenet", IMG28,
       "LeNet with batch normalisation after every conv and dense layer (section 8.5).",
       _act("sigmoid"), _norm("batch"), _dropout(0.0))
_image("alexnet", CH_MODERN, "d2ltui.zoo.alexnet:alexnet", IMG224,
       "AlexNet: five conv layers and two 4096-wide dense layers with dropout (Krizhevsky et al., 2012).",
       _dropout(0.5), _norm("none"), _act("relu"))
_image("vgg11", CH_MODERN, "d2ltui.zoo.vgg:vgg", IMG224,
       "VGG-11: VGG blocks of 3x3 convs and max-pooling (Simonyan & Zisserman, 2014).",
       Knob("arch", tuple, ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)), "(num_convs, channels) per block",
            check=_arch_pairs), _dropout(0.5), _norm("none"))
_image("vgg", CH_MODERN, "d2ltui.zoo.vgg:vgg", IMG224,
       "VGG with the book's training arch: VGG-11 with channels divided by 4 (section 8.2).",
       Knob("arch", tuple, ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)), "(num_convs, channels) per block",
            check=_arch_pairs), _dropout(0.5), _norm("none"))
_image("nin", CH_MODERN, "d2ltui.zoo.nin:nin", IMG224,
       "Network in Network: NiN blocks of conv + 1x1 convs, global average pooling (Lin et al., 2013).",
       _dropout(0.5), _norm("none"))
_image("googlenet", CH_MODERN, "d2ltui.zoo.googlenet:googlenet", IMG96,
       "GoogLeNet: Inception blocks of parallel 1x1, 3x3, 5x5 and pooling paths (Szegedy et al., 2015).",
       _norm("none"))
_image("resnet18", CH_MODERN, "d2ltui.zoo.resnet:resnet", IMG96,
       "ResNet-18: residual blocks with batch normalisation (He et al., 2016).",
       Knob("arch", tuple, ((2, 64), (2, 128), (2, 256), (2, 512)), "(num_residuals, channels) per stage",
            check=_arch_pairs), _norm("batch"),
       Knob("stem", str, "7x7", "first block: 7x7 conv + max-pool, or the book's 3x3 conv without pool "
            "(small images)", choices=("7x7", "3x3")))
_image("resnext", CH_MODERN, "d2ltui.zoo.resnet:resnext", IMG96,
       "ResNeXt: residual blocks with grouped 3x3 convolutions (Xie et al., 2017).",
       Knob("arch", tuple, ((2, 64), (2, 128), (2, 256), (2, 512)), "(num_residuals, channels) per stage",
            check=_arch_pairs),
       Knob("groups", int, 16, "groups of the 3x3 convolution", min=1, max=512),
       Knob("bot_mul", float, 1.0, "bottleneck width multiplier", min=0.125, max=8.0), _norm("batch"))
_image("densenet", CH_MODERN, "d2ltui.zoo.densenet:densenet", IMG96,
       "DenseNet: dense blocks concatenating features, transition layers halving them (Huang et al., 2017).",
       Knob("growth_rate", int, 32, "channels each conv adds", min=1, max=1024),
       Knob("arch", tuple, (4, 4, 4, 4), "convs per dense block", check=_positive_ints), _norm("batch"))

# RNN language models
def _lm(name: str, cell: str, doc: str) -> None:
    register(ModelSpec(
        name, CH_RNN, "language-model", "tokens", ((1, 32),), f"d2ltui.zoo.rnn:{cell}_lm",
        _k(Knob("vocab_size", int, 28, "vocabulary size (characters)", min=2, max=1000000),
           Knob("num_hiddens", int, 32, "hidden units per layer", min=1, max=100000),
           Knob("num_layers", int, 1, "stacked recurrent layers (deep RNN)", min=1, max=64),
           Knob("bidirectional", bool, False, "run a second layer backwards (bidirectional RNN)"),
           _dropout(0.0), INIT),
        doc))


_lm("rnn-lm", "rnn", "RNN language model: one-hot characters into a recurrent layer and a dense output (section 9.6).")
_lm("gru-lm", "gru", "GRU language model: gated recurrent units (Cho et al., 2014; section 10.2).")
_lm("lstm-lm", "lstm", "LSTM language model: long short-term memory (Hochreiter & Schmidhuber, 1997; section 10.1).")

# Encoder-decoder and attention
_SEQ_KNOBS = (
    Knob("src_vocab", int, 10, "source vocabulary size", min=2, max=1000000),
    Knob("tgt_vocab", int, 10, "target vocabulary size", min=2, max=1000000),
    Knob("embed_size", int, 8, "embedding size", min=1, max=100000),
    Knob("num_hiddens", int, 16, "hidden units per layer", min=1, max=100000),
    Knob("num_layers", int, 2, "stacked layers", min=1, max=64),
    _dropout(0.0), INIT,
)
register(ModelSpec(
    "seq2seq", CH_ENCDEC, "seq2seq", "seq2seq", ((1, 9), (1, 9)), "d2ltui.zoo.seq2seq:seq2seq",
    _k(*_SEQ_KNOBS),
    "RNN encoder-decoder: a GRU encoder's final state conditions a GRU decoder (Sutskever et al., 2014)."))
register(ModelSpec(
    "seq2seq-attention", CH_ENCDEC, "seq2seq", "seq2seq", ((1, 9), (1, 9)), "d2ltui.zoo.seq2seq:seq2seq_attention",
    _k(*_SEQ_KNOBS),
    "Encoder-decoder with Bahdanau (additive) attention over the encoder outputs (Bahdanau et al., 2014)."))
register(ModelSpec(
    "transformer", CH_ATTN, "seq2seq", "seq2seq", ((1, 10), (1, 10)), "d2ltui.zoo.transformer:transformer",
    _k(Knob("src_vocab", int, 10, "source vocabulary size", min=2, max=1000000),
       Knob("tgt_vocab", int, 10, "target vocabulary size", min=2, max=1000000),
       Knob("num_hiddens", int, 32, "model width", min=1, max=100000),
       Knob("ffn_num_hiddens", int, 64, "feed-forward width", min=1, max=100000),
       Knob("num_heads", int, 4, "attention heads (must divide num_hiddens)", min=1, max=1024),
       Knob("num_blks", int, 2, "encoder and decoder blocks", min=1, max=64),
       _dropout(0.2), INIT),
    "Transformer encoder-decoder: multi-head self-attention and position-wise FFNs (Vaswani et al., 2017)."))
register(ModelSpec(
    "nadaraya-watson", CH_ATTN, "regression", "features", ((1, 1), (1, 49), (1, 49)),
    "d2ltui.zoo.nadaraya:nadaraya_watson", _k(INIT),
    "Nadaraya-Watson kernel regression: Gaussian attention pooling with a learned width (Nadaraya, 1964; "
    "Watson, 1964). Inputs: queries, keys, values (data.name=kernel-regression)."))
_image("vit", CH_ATTN, "d2ltui.zoo.transformer:vit", IMG96,
       "Vision Transformer: image patches as tokens through Transformer encoder blocks (Dosovitskiy et al., 2021).",
       Knob("patch_size", int, 16, "patch side in pixels", min=1, max=1024),
       Knob("num_hiddens", int, 512, "model width", min=1, max=100000),
       Knob("mlp_num_hiddens", int, 2048, "MLP width", min=1, max=100000),
       Knob("num_heads", int, 8, "attention heads (must divide num_hiddens)", min=1, max=1024),
       Knob("num_blks", int, 2, "encoder blocks", min=1, max=64),
       _dropout(0.1))


def _anchor_sizes(value: tuple) -> str | None:
    ok = len(value) == 5 and len({len(s) if isinstance(s, tuple) else -1 for s in value}) == 1 and all(
        isinstance(s, tuple) and s and all(isinstance(v, float) and 0 < v <= 2 for v in s) for s in value)
    return None if ok else "expected 5 tuples (one a scale) of as many sizes in (0, 2], e.g. the book's ((0.2, 0.272), ...)"


def _ratios(value: tuple) -> str | None:
    ok = value and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 10 for v in value)
    return None if ok else "expected a tuple of positive aspect ratios (width / height), e.g. (1, 2, 0.5)"


# Computer vision
register(ModelSpec(
    "tiny-ssd", CH_CV, "detection", "image", RGB256, "d2ltui.zoo.ssd:tiny_ssd",
    _k(Knob("num_classes", int, 1, "object classes (background not counted)", min=1, max=1000),
       Knob("in_channels", int, 3, "input channels (1 grey, 3 colour)", min=1, max=64),
       Knob("sizes", tuple, SSD_SIZES, "anchor sizes (fractions of the image) at each of the 5 scales",
            check=_anchor_sizes),
       Knob("ratios", tuple, SSD_RATIOS, "anchor aspect ratios at every scale", check=_ratios),
       INIT),
    "TinySSD: single-shot multibox detection with a small base net and five scales (Liu et al., 2016; section 14.7)."))

register(ModelSpec(
    "tv-resnet18", CH_CV, "classification", "image", ((1, 3, 224, 224),),
    "d2ltui.zoo.resnet:torchvision_resnet18",
    _k(CLASSES, Knob("in_channels", int, 3, "input channels (ImageNet weights need 3)", min=1, max=64), INIT),
    "torchvision's ResNet-18, the layout of its ImageNet weights (train.init_from=torchvision:resnet18), "
    "as the book fine-tunes it (section 14.2)."))

# Generative adversarial networks: one module with a generator and a discriminator
def _finite(value: float) -> str | None:
    return None if value == value and abs(value) != float("inf") else "must be a finite number"


register(ModelSpec(
    "gan", CH_GAN, "gan", "latent", ((1, 2),), "d2ltui.zoo.gan:gan",
    _k(Knob("latent_dim", int, 2, "latent vector size", min=1, max=100000),
       Knob("data_dim", int, 2, "size of a data point (the data fixes it)", min=1, max=100000), INIT),
    "The book's first GAN: generator Linear(2, 2), discriminator a 2-5-3-1 tanh MLP (Goodfellow et al., 2014)."))
register(ModelSpec(
    "dcgan", CH_GAN, "gan", "latent", ((1, 100, 1, 1),), "d2ltui.zoo.gan:dcgan",
    _k(Knob("latent_dim", int, 100, "latent vector size", min=1, max=100000),
       Knob("base_width", int, 64, "channels of the widest-image block (n_G = n_D)", min=1, max=4096),
       Knob("in_channels", int, 3, "image channels (1 grey, 3 colour)", min=1, max=64), INIT),
    "DCGAN: transposed-conv generator and conv discriminator with batch norm, 64x64 images "
    "(Radford et al., 2016)."))

# Reinforcement learning: tabular agents on FrozenLake
_STATES = Knob("num_states", int, 16, "states of the environment (the map fixes it)", min=1, max=1000000)
_ACTIONS = Knob("num_actions", int, 4, "actions of the environment (the map fixes it)", min=1, max=1000)
_GAMMA = Knob("gamma", float, 0.95, "discount factor", min=0.0, max=1.0, check=_finite)
register(ModelSpec(
    "value-iteration", CH_RL, "value-iteration", "states", ((1,),), "d2ltui.zoo.rl:value_iteration",
    _k(_STATES, _ACTIONS, _GAMMA),
    "Value iteration: Bellman updates of V from the known MDP, one sweep per iteration (Bellman, 1957)."))
register(ModelSpec(
    "q-learning", CH_RL, "q-learning", "states", ((1,),), "d2ltui.zoo.rl:q_learning",
    _k(_STATES, _ACTIONS, _GAMMA,
       Knob("alpha", float, 0.9, "learning rate of the Q update", min=0.0, max=1.0, check=_finite),
       Knob("epsilon", float, 0.9, "exploration: probability of a random action", min=0.0, max=1.0, check=_finite)),
    "Q-learning: epsilon-greedy episodes, Q moved towards r + gamma max Q(s', .) (Watkins & Dayan, 1992)."))
