"""Terms of words in any language: n-grams for unspaced scripts, stopwords, stems, digits.

BM25 needs the question and a document to share *terms*. What a term is depends on the script:

- Scripts written without spaces between words (Han, kana, Thai) and Hangul give overlapping
  character bigrams of each run of their letters, a lone letter giving itself, as Lucene's
  CJKAnalyzer does: a question and a passage share the bigrams of the words they share, with no
  dictionary to ship. A Thai run keeps its combining vowels and tone marks, which Python's
  ``\\w`` leaves out (a mark is not a word character), inside its bigrams.
- Other scripts give their words (combining marks kept: Devanagari vowel signs are marks),
  lower-cased, compatibility forms as their plain letters (NFKC: fullwidth ``ｆｕｌｌ`` is
  ``full``), digits of any script read as ASCII digits (``٣`` is ``3``), function words of
  the word's language dropped, and the rest stemmed by that language's Snowball stemmer
  (``snowballstemmer``, pure Python) so that ``closed`` matches ``close``.

The language of a word comes from its script where a script has one language here (Arabic,
Greek, Cyrillic, Devanagari); for Latin script it is the language whose function words the
request uses most (:func:`latin_language`), English when none stands out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from importlib.util import find_spec

from tersify.segment import UNSPACED_LETTERS

__all__ = ["LATIN", "latin_language", "stemmer", "stopwords", "terms_of_word"]

# Letters of scripts whose runs give bigrams: unspaced CJK, Hangul syllables and jamo, Thai.
_NGRAM = f"{UNSPACED_LETTERS}\u1100-\u11ff\u3130-\u318f\uac00-\ud7af\u0e01-\u0e4e"
_NGRAM_RUN = re.compile(f"[{_NGRAM}]+")
_HAS_NGRAM = re.compile(f"[{_NGRAM}]")


@cache
def _term() -> re.Pattern[str]:
    """Word characters and every combining mark of the Basic Multilingual Plane (built on first
    use, ~14 ms: a request of ASCII words never needs it)."""
    marks = [c for c in map(chr, range(0x300, 0x10000)) if unicodedata.category(c)[0] == "M"]
    return re.compile(f"(?:\\w|[{''.join(map(re.escape, marks))}])+")

_STOPWORDS: dict[str, frozenset[str]] = {lang: frozenset(words.split()) for lang, words in {
    "en": """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don""",
    "de": """der die das den dem des ein eine einer eines einem einen und oder aber in im auf an
    am zu zum zur von vom mit für bei aus nach über unter vor als wie ist sind war waren wird
    werden wurde wurden hat haben hatte hatten sein es er sie wir ihr ich nicht auch noch nur so
    dass daß sich man dieser diese dieses welche welcher welches wer was wann wo um durch bis""",
    "es": """el la los las un una unos unas de del al y o e u en con por para que se su sus es
    son fue fueron ser era eran como más pero lo le les no este esta estos estas ese esa qué cuál
    cuáles cuándo dónde quién quiénes cómo cuánto cuántos cuántas entre sobre hasta desde ha han
    muy""",
    "ro": """și şi sau în din la de pe cu pentru că ce care cine este sunt a fost au un o unui
    unei ale al lui lor nu se mai cum când unde câte câți ca prin după sub între acest această
    acesta aceasta fi să""",
    "tr": """ve veya ile bir bu şu o da de ki mi mı mu mü için gibi olan olarak daha en çok ne
    kim nerede hangi kaç ise ya her ama fakat sonra önce kadar tarafından""",
    "vi": """của là và các những được trong có một cho với này đã không để khi từ về theo đến
    như thì cũng nào gì ai đâu bị bởi tại sẽ vào đó mà""",
    "ar": """في من على إلى الى عن مع ما ماذا متى أين كيف كم هل هو هي هم التي الذي الذين هذا هذه
    ذلك تلك كان كانت أن إن أو و ثم لا لم لن قد بين عند كل بعد قبل حتى أي""",
    "el": """ο η το οι τα του της των τον την και ή σε στο στη στην στον στα στους στις από με
    για που ποιο ποια ποιος ποιες ποιοι πότε πού πώς πόσα πόσοι πόσες είναι ήταν θα να δεν μη
    ένα μια ένας αυτό αυτή αυτός ως κατά μετά""",
    "ru": """и в во не что он на с со как а то все она так его но да к у же за бы по только ее
    её было от о из когда ли если или ни быть был была были до уже где есть для мы их чем без
    кто этот того какой какая какие каком при об после над через эти про эту этой перед между
    который которая которые которых""",
    "hi": """का के की है में से को और पर यह था थी थे हैं एक लिए भी ने वह कि जो तक या इस उस
    किस कौन क्या कब कहाँ कहां कैसे कितने कितना होता होती हुआ हुए गया गई द्वारा साथ""",
}.items()}
_SNOWBALL = {"en": "english", "de": "german", "es": "spanish", "ro": "romanian",
             "tr": "turkish", "ar": "arabic", "el": "greek", "ru": "russian", "hi": "hindi"}
_BY_SCRIPT = {"ARABIC": "ar", "GREEK": "el", "CYRILLIC": "ru", "DEVANAGARI": "hi"}
LATIN = ("en", "de", "es", "ro", "tr", "vi")  # languages told apart by their function words


class _Digits(dict[int, int]):
    """A ``str.translate`` table reading a decimal digit of any script as its ASCII digit."""

    def __missing__(self, code: int) -> int:
        value = unicodedata.decimal(chr(code), None)
        self[code] = out = code if value is None else 48 + value
        return out


_DIGITS = _Digits({c: c for c in range(128)})


def latin_language(words: Iterable[str]) -> str:
    """The Latin-script language whose function words are most among ``words`` (distinct,
    lower-cased); English when none has more."""
    distinct = words if isinstance(words, (set, frozenset)) else set(words)
    hits = {lang: len(_STOPWORDS[lang].intersection(distinct)) for lang in LATIN}
    best = max(LATIN, key=hits.__getitem__)  # the first of equals: English
    return best if hits[best] > hits["en"] else "en"


def terms_of_word(word: str, latin: str) -> list[str]:
    """Terms of one lower-cased ``word`` (see the module docstring); ``latin`` is the language
    of its Latin-script parts."""
    out: list[str] = []
    if not word.isascii():  # compatibility forms as their plain letters: ｆｕｌｌ is full
        word = unicodedata.normalize("NFKC", word)
    for token in _term().findall(word):
        if not _HAS_NGRAM.search(token):
            out.extend(_plain(token, latin))
            continue
        last = 0
        for run in _NGRAM_RUN.finditer(token):
            out.extend(_plain(token[last : run.start()], latin))
            text = run.group()
            out.extend([text] if len(text) == 1 else map(str.__add__, text, text[1:]))
            last = run.end()
        out.extend(_plain(token[last:], latin))
    return out


def _plain(token: str, latin: str) -> list[str]:
    """The term of a token of a spaced script: none for an empty token or a function word."""
    if not token:
        return []
    if not token.isascii():
        token = token.translate(_DIGITS)
    lang = latin if token.isascii() else _language(token, latin)
    if token in _STOPWORDS.get(lang, ()):
        return []
    return [stemmer(lang)(token)]


def stopwords(lang: str) -> frozenset[str]:
    """The function words of ``lang`` (a short list: the most common ones); none for a
    language written without them here (Chinese, Thai)."""
    return _STOPWORDS.get(lang, frozenset())


def _language(token: str, latin: str) -> str:
    """The language of a token from the script of its first letter."""
    letter = next((c for c in token if c.isalpha()), None)
    if letter is None:  # digits, marks, underscores
        return latin
    return _BY_SCRIPT.get(unicodedata.name(letter, "LATIN").split(" ", 1)[0], latin)


@cache
def stemmer(lang: str) -> Callable[[str], str]:
    """A memoised stem function for ``lang`` (an ISO 639-1 code).

    ``snowballstemmer`` runs PyStemmer's C code when that is installed: the same algorithms,
    ~20x faster (English Porter2 then costs the fast preset ~5% of its time on nq20, ~25% in
    pure Python). Without ``snowballstemmer`` English keeps a light plural stripper and other
    languages go unstemmed."""
    name = _SNOWBALL.get(lang)
    if name is None or find_spec("snowballstemmer") is None:
        return _light_english if lang == "en" else str
    import snowballstemmer  # noqa: PLC0415 - loaded once a language needs it

    return lru_cache(maxsize=100_000)(snowballstemmer.stemmer(name).stemWord)


def _light_english(term: str) -> str:
    """A light suffix stripper so that plural and possessive forms match."""
    if len(term) > 4 and term.endswith("ies"):
        return term[:-3] + "y"
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        return term[:-1]
    return term
