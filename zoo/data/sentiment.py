"""A generated, seeded sentiment dataset that bag-of-words cannot solve.

Short movie-review sentences, label 1 positive or 0 negative, from a small
grammar and a seeded numpy generator (train and test: two streams of one
seed). A clause is `subject verb [intensifier] adjective`; a negated verb
flips it. The label is the winning clause's:

- contrast: the clause after "but", "yet", "; however," wins; with
  "although/even though/while X, Y" the main clause Y, with "X,
  although/though Y" the main clause X.
- agreement: "X and Y", one negated, adjectives of opposite polarity.
- one clause, two adjectives: "A rather than B", "A, not B" are A's,
  "not A but B" is B's.

Every sentence has an equally likely twin of the same words and the other
label, so word counts carry no information. Punctuation is decoration.

Example:

>>> texts, labels = generate(3, seed=0)
>>> len(texts), sorted(set(labels)) <= [0, 1], texts == generate(3, seed=0)[0]
(3, True, True)
>>> text, label = next(iter(load(split="test", batch_size=8)))
>>> text.dtype.name, tuple(text.shape), label.dtype.name, tuple(label.shape)
('string', (8,), 'int32', (8,))
"""

import functools
import re

import numpy as np
import tensorflow as tf

from zoo import _validation
from zoo.data.text import text_pipeline

SPLITS = ("train", "test")
NUM_CLASSES = 2
CLASS_NAMES = ("negative", "positive")
NUM_EXAMPLES = {"train": 4000, "test": 1000}
STREAMS = {"train": 0, "test": 1}
MAX_WORDS = 40

POSITIVE = (
    "good", "great", "excellent", "wonderful", "brilliant", "superb", "fantastic", "enjoyable",
    "charming", "delightful", "moving", "clever", "funny", "beautiful", "gripping", "engaging",
    "impressive", "solid", "fresh", "memorable", "touching", "thrilling", "stunning", "smart",
    "lovely", "powerful", "witty", "entertaining", "compelling", "inventive", "polished",
    "heartfelt")
NEGATIVE = (
    "bad", "awful", "terrible", "boring", "dull", "weak", "poor", "bland", "tedious", "clumsy",
    "messy", "predictable", "forgettable", "lifeless", "shallow", "silly", "painful", "dreadful",
    "flat", "stale", "mediocre", "confusing", "sloppy", "annoying", "pointless", "lazy", "cheap",
    "tiresome", "ugly", "disappointing", "forced", "overlong")
# Words that flip the polarity of the next adjective.
NEGATIONS = ("not", "never", "hardly")

# Subjects that take no modifier, and nouns that follow "the" and may.
SUBJECTS = (
    "it", "this film", "this movie", "this sequel", "her performance", "his performance",
    "their chemistry", "the whole thing")
NOUNS = (
    "film", "movie", "plot", "story", "script", "screenplay", "dialogue", "acting", "cast",
    "lead actor", "lead actress", "supporting cast", "villain", "hero", "main character",
    "direction", "editing", "pacing", "ending", "finale", "opening scene", "final act", "twist",
    "premise", "soundtrack", "score", "music", "sound design", "cinematography", "camera work",
    "lighting", "set design", "costume design", "makeup", "animation", "voice acting", "humor",
    "romance", "action", "chase sequence", "narration", "remake", "documentary", "series",
    "pilot episode", "performance", "chemistry between the leads")
MODIFIERS = (
    "of this film", "of the sequel", "in the second half", "in this version",
    "in the last episode", "by the new director", "from the trailer", "at the start",
    "of the first season", "in the theatrical cut", "on the big screen", "of the whole production",
    "in the opening minutes", "of the remake", "in the extended edition")
VERBS = (
    "was", "is", "felt", "seemed", "looked", "sounded", "turned out to be", "remains",
    "came across as")
NEGATED_VERBS = (
    "was not", "is not", "was never", "is never", "was hardly", "is hardly", "did not feel",
    "did not seem", "never felt", "never seemed", "does not look", "did not come across as")
INTENSIFIERS = (
    "very", "really", "quite", "so", "truly", "pretty", "extremely", "genuinely", "surprisingly",
    "incredibly", "remarkably", "somewhat", "fairly", "utterly", "a bit", "a little")
PREFIXES = (
    "honestly", "frankly", "to be honest", "in my opinion", "for the record", "all in all",
    "overall", "in short", "to put it simply", "from start to finish", "as far as i am concerned",
    "after all the hype", "having seen it twice now", "as a longtime fan of the series",
    "after waiting two years for this release", "on a second viewing",
    "for a saturday night at the cinema", "believe me")
LEAD_INS = (
    "i think", "i feel", "i have to say", "i must admit", "i felt that", "my wife thought",
    "my friends agreed that", "everyone in the theater agreed that", "the critics said",
    "we all thought", "i watched it last night and", "we saw it on opening night and",
    "i went in knowing nothing about it and", "my brother told me", "it seems to me that")
SUFFIXES = (
    "overall", "in the end", "if you ask me", "for a film of this budget", "at least for me",
    "as far as i can tell", "for most of the running time", "by the standards of the genre",
    "to be fair", "all things considered", "compared to the first one", "from what i remember",
    "for a debut", "in my humble view", "for a family film", "given the source material")
# Fillers right after "but", "yet" and "however".
ASIDES = (
    "to be fair", "at the same time", "in the end", "on the other hand", "honestly", "in fairness",
    "if i am being honest")

# Two-clause contrasts: (words before clause 1, between, after; winner).
_CONTRASTS = (
    ((), (",", "but"), (), 2),
    ((), (";", "however", ","), (), 2),
    ((), (",", "yet"), (), 2),
    (("although",), (",",), (), 2),
    (("even", "though"), (",",), (), 2),
    (("while",), (",",), (), 2),
    ((), (",", "although"), (), 1),
    ((), (",", "even", "though"), (), 1),
    ((), (",", "though"), (), 1),
)


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _words(phrase):
    return phrase.split(" ")


def _adjective(rng, polarity):
    # Equally likely polarities: the twin argument relies on it.
    return _pick(rng, POSITIVE if polarity else NEGATIVE)


def _subject(rng):
    if rng.random() < 0.2:
        return _words(_pick(rng, SUBJECTS))
    words = ["the"] + _words(_pick(rng, NOUNS))
    if rng.random() < 0.3:
        words += _words(_pick(rng, MODIFIERS))
    return words


def _intensified(rng, adjective, probability=0.35):
    if rng.random() < probability:
        return _words(_pick(rng, INTENSIFIERS)) + [adjective]
    return [adjective]


def _clause(rng, adjective, negated):
    verb = _pick(rng, NEGATED_VERBS if negated else VERBS)
    return _subject(rng) + _words(verb) + _intensified(rng, adjective)


def _polar_clause(rng, polarity):
    """A clause of the given polarity, negated or not at random."""
    negated = bool(rng.random() < 0.5)
    return _clause(rng, _adjective(rng, polarity != negated), negated)


def _contrast(rng):
    before, between, after, winner = _pick(rng, _CONTRASTS)
    polarity = int(rng.random() < 0.5)
    first = _polar_clause(rng, polarity)
    second = _polar_clause(rng, 1 - polarity)
    if winner == 2 and not before and rng.random() < 0.15:
        # "but, to be fair, the acting ...", "; however, in the end, ...".
        if between[-1] != ",":
            between = between + (",",)
        between = between + tuple(_words(_pick(rng, ASIDES))) + (",",)
    words = [*before, *first, *between, *second, *after]
    label = polarity if winner == 1 else 1 - polarity
    return words, label, not before


def _agreement(rng):
    label = int(rng.random() < 0.5)
    negated_first = bool(rng.random() < 0.5)
    first_adjective = _adjective(rng, label != negated_first)
    second_adjective = _adjective(rng, label == negated_first)
    first = _clause(rng, first_adjective, negated_first)
    second = _clause(rng, second_adjective, not negated_first)
    joint = [",", "and"] if rng.random() < 0.5 else ["and"]
    return first + joint + second, label, True


def _single(rng):
    form = int(rng.integers(3))
    polarity = int(rng.random() < 0.5)
    winner = _adjective(rng, polarity)
    loser = _adjective(rng, 1 - polarity)
    full = form == 2 or rng.random() < 0.6
    head = _subject(rng) + _words(_pick(rng, VERBS)) if full else []
    if form == 0:
        words = head + _intensified(rng, winner) + ["rather", "than", loser]
    elif form == 1:
        words = head + ["not"] + _intensified(rng, loser) + ["but"] + (
            _intensified(rng, winner))
    else:
        words = head + _intensified(rng, winner) + [",", "not", loser]
    return words, polarity, full


def _render(words):
    return re.sub(r" ([,;.!])", r"\1", " ".join(words))  # "a , b" -> "a, b"


def _sentence(rng):
    """(text, label) for one sentence; may exceed MAX_WORDS (caller rejects)."""
    kind = rng.random()
    form = _contrast if kind < 0.55 else _agreement if kind < 0.7 else _single
    words, label, starts_with_clause = form(rng)
    if starts_with_clause and rng.random() < 0.25:
        words = _words(_pick(rng, LEAD_INS)) + words
    if rng.random() < 0.25:
        words = _words(_pick(rng, PREFIXES)) + [","] + words
    if rng.random() < 0.3:
        words = words + [","] + _words(_pick(rng, SUFFIXES))
    words.append("!" if rng.random() < 0.1 else ".")
    return _render(words), label


@functools.lru_cache(maxsize=16)
def _generate(n, seed, stream):
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))
    texts, labels = [], []
    while len(texts) < n:
        text, label = _sentence(rng)
        # A twin has the same length: rejecting by length keeps it as likely.
        if len(text.split()) <= MAX_WORDS:
            texts.append(text)
            labels.append(label)
    return tuple(texts), tuple(labels)


def generate(n, seed=0, stream=0):
    """`(texts, labels)`: `n` sentences (str) and labels (int) from stream `stream` of `seed`.

    The first `k` of `generate(n, ...)` are `generate(k, ...)`.

    Example:

    >>> texts, labels = generate(2, seed=7)
    >>> texts == generate(5, seed=7)[0][:2]
    True
    """
    _validation.positive_int("n", n)
    _validation.non_negative_int("seed", seed)
    _validation.non_negative_int("stream", stream)
    texts, labels = _generate(int(n), int(seed), int(stream))
    return list(texts), list(labels)


def load_arrays(split, seed=0, num_examples=None):
    """One split as numpy arrays: str objects `(n,)` and int64 `(n,)`, in generation order.

    `num_examples` None is `NUM_EXAMPLES[split]`.
    """
    _validation.one_of("split", split, SPLITS)
    _validation.positive_int("num_examples", num_examples, optional=True)
    n = NUM_EXAMPLES[split] if num_examples is None else num_examples
    texts, labels = generate(n, seed=seed, stream=STREAMS[split])
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)


def load(split="train", batch_size=32, shuffle=False, seed=0,
         drop_remainder=False, num_examples=None, start_epoch=None):
    """One split as string `(batch,)`, int32 `(batch,)` batches (`zoo.data.text.text_pipeline`).

    Common arguments as in `zoo.data.load`, which checks them.

    Example:

    >>> ds = load(split="train", batch_size=4, shuffle=False, num_examples=6)
    >>> [int(labels.shape[0]) for _, labels in ds]
    [4, 2]
    """
    texts, labels = load_arrays(split, seed=seed, num_examples=num_examples)
    ds = tf.data.Dataset.from_tensor_slices((texts.astype(str), labels.astype(np.int32)))
    return text_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                         drop_remainder=drop_remainder, start_epoch=start_epoch)
