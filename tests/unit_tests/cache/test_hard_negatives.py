"""Near misses and paraphrases through the real cache (packaged int8 MiniLM, default threshold).

One hand-written pair per perturbation kind of ``bench/cache/hard_negatives.py``, the eight
near misses that issue 22 found served, and paraphrases that must still hit.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_core.outputs import Generation

from langchain_tokenopt.cache import NearMissVerifier, SemanticCache, cache_scope
from langchain_tokenopt.cache.lexicon import Lexicon, load_lexicon

from .helpers import chat_prompt, llm_string

MakeCache = Callable[..., SemanticCache]
GEN = [Generation(text="cached answer")]

NEAR_MISSES = [
    # the eight near misses issue 22 found served
    ("Is it unsafe to take ibuprofen with alcohol?", "Is it safe to take ibuprofen with alcohol?"),
    ("How do I convert euros to dollars?", "How do I convert dollars to euros?"),
    ("Should I reduce the dose of my medication?", "Should I increase the dose of my medication?"),
    ("Is Java faster than Python?", "Is Python faster than Java?"),
    ("How long do I boil an egg for a hard yolk?", "How long do I boil an egg for a soft yolk?"),
    ("Is the pharmacy open at 7 pm?", "Is the pharmacy open at 7 am?"),
    ("Is the museum closed on Sundays?", "Is the museum open on Sundays?"),
    ("Is this lasagna recipe vegan?", "Is this lasagna recipe vegetarian?"),
]
PERTURBATIONS = {
    "antonym": ("Is it safe to swim after eating?", "Is it dangerous to swim after eating?"),
    "negation": ("Why is my code working?", "Why is my code not working?"),
    "number": (
        "What is the best laptop under 500 dollars?",
        "What is the best laptop under 800 dollars?",
    ),
    "unit": ("How far can I run in 10 km?", "How far can I run in 10 miles?"),
    "time": ("Can I book a table for 8:30 pm?", "Can I book a table for 8:30 am?"),
    "date": ("What is the weather in Paris in May?", "What is the weather in Paris in June?"),
    "entity": ("What is the capital of France?", "What is the capital of Spain?"),
    "role": (
        "How do I migrate from MySQL to PostgreSQL?",
        "How do I migrate from PostgreSQL to MySQL?",
    ),
    "comparative": ("Why is Rust better than C++?", "Why is Rust worse than C++?"),
}
PARAPHRASES = [
    ("What is the capital of France?", "What's the capital of France?"),
    ("How do I reset my password?", "How can I reset my password?"),
    ("Convert 200g of flour to cups", "Convert 200 grams of flour to cups"),
    ("How do I start learning guitar?", "How do I begin learning guitar?"),
]


def _served(cache: SemanticCache, stored: str, asked: str, tenant: str) -> bool:
    llm = llm_string()
    with cache_scope(tenant_id=tenant):
        cache.update(chat_prompt(stored), llm, GEN)
        return cache.lookup(chat_prompt(asked), llm) is not None


@pytest.mark.parametrize(("stored", "asked"), NEAR_MISSES)
def test_issue_near_misses_are_never_served(make_cache: MakeCache, stored: str, asked: str) -> None:
    cache = make_cache()
    assert not _served(cache, stored, asked, "t")
    assert not _served(cache, asked, stored, "u")  # and the other way round


@pytest.mark.parametrize("kind", sorted(PERTURBATIONS))
def test_every_perturbation_kind_misses(make_cache: MakeCache, kind: str) -> None:
    stored, asked = PERTURBATIONS[kind]
    cache = make_cache()
    assert not _served(cache, stored, asked, kind)


@pytest.mark.parametrize(("stored", "asked"), PARAPHRASES)
def test_paraphrases_still_hit(make_cache: MakeCache, stored: str, asked: str) -> None:
    assert _served(make_cache(), stored, asked, "p")


def test_rejections_are_counted_per_reason(make_cache: MakeCache) -> None:
    cache = make_cache(similarity_threshold=0.5)
    assert not _served(cache, *NEAR_MISSES[5], tenant="a")  # 7 pm / 7 am
    assert not _served(cache, "Is Java faster than Python?", "Is Python faster than Java?", "b")
    stats = cache.stats()
    assert stats.verifier_rejections == 2
    assert stats.rejections_by_reason == {"time": 1, "roles": 1}


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        ("Is it unsafe to take ibuprofen?", "Is it safe to take ibuprofen?", "antonym"),
        ("How do I convert euros to dollars?", "How do I convert dollars to euros?", "roles"),
        ("Does the dog bite the man?", "Does the man bite the dog?", "roles"),
        ("Is the pharmacy open at 7 pm?", "Is the pharmacy open at 7 am?", "time"),
        ("Flights to Paris", "Flights from Paris", "antonym"),
        ("Print 'hello world'", "Print 'hello there'", "quote"),
        ("What does os.path.join do?", "What does os.path.split do?", "code"),
        ("Meeting on 2024-05-03", "Meeting on 2024-05-04", "date"),
        ("Why is the sky blue?", "When is the sky blue?", "question"),
        ("Is this recipe vegan?", "Is this recipe vegetarian?", "unexplained"),
    ],
)
def test_rejection_names_its_reason(query: str, candidate: str, code: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert not verdict.accepted
    assert verdict.reason.startswith(code), verdict.reason


def test_without_a_lexicon_the_verifier_is_stricter() -> None:
    bare = NearMissVerifier(lexicon=Lexicon())
    assert not bare.verify(
        "How do I start a business?", "How do I begin a business?", 0.95
    ).accepted
    assert not bare.verify("Is it unsafe to swim?", "Is it safe to swim?", 0.95).accepted
    assert bare.verify("Convert 200g of flour", "convert 200 grams of flour", 0.95).accepted


def test_wordnet_lexicon_relations() -> None:
    lex = load_lexicon()
    assert lex is not None
    assert lex.antonyms("safe", "unsafe") and lex.antonyms("hard", "soft")
    assert lex.antonyms("open", "closed") and not lex.antonyms("begin", "start")
    assert lex.synonyms("begin", "start") and lex.related("quick", "quickly")
    assert "child" in lex.lemmas("children")


# Role swaps in every form the verifier reads (hand-written, not from the bench's split):
# "from X to Y", "A than B", subject / object around a verb, repeated words, numbers,
# object pronouns.
ROLE_SWAPS = [
    ("How do I send money from India to the US?", "How do I send money from the US to India?"),
    ("Is a cat bigger than a dog?", "Is a dog bigger than a cat?"),
    ("Why did Germany declare war on the US?", "Why did the US declare war on Germany?"),
    ("Can I upgrade from Windows 7 to Windows 10?", "Can I upgrade from Windows 10 to Windows 7?"),
    ("Why do cats chase dogs and not other cats?", "Why do dogs chase cats and not other cats?"),
    (
        "Why do teenagers compare themselves to celebrities?",
        "Why do teenagers compare celebrities to themselves?",
    ),
    (
        "Is it cheaper to fly from London to Paris or to Rome?",
        "Is it cheaper to fly from Paris to London or to Rome?",
    ),
]


@pytest.mark.parametrize(("stored", "asked"), ROLE_SWAPS)
def test_role_swaps_are_refused_for_their_roles(
    make_cache: MakeCache, stored: str, asked: str
) -> None:
    # threshold 0.5: the embedder scores these 0.97-0.99, the verifier alone decides
    cache = make_cache(similarity_threshold=0.5)
    assert not _served(cache, stored, asked, "r")
    assert not _served(cache, asked, stored, "s")  # and the other way round
    assert cache.stats().rejections_by_reason == {"roles": 2}


# Differences the verifier explains; each pair scores >= 0.93 with the packaged embedder
# (or is the same text once canonical), so it must hit at the shipped default.
EXPLAINED = [
    # words added on one side only
    (
        "What is the default value of the timeout parameter?",
        "What is the timeout parameter set to by default?",
    ),
    ("The dataset is 2 GB.", "The dataset is 2 GB in size."),
    # a negation and an antonym cancel out
    ("Is the timeout parameter optional?", "Is the timeout parameter not mandatory?"),
    # contractions, number words, case, word order that is not a role swap
    ("Why can't I log in to my account?", "Why cannot I log in to my account?"),
    ("What are the three laws of motion?", "What are the 3 laws of motion?"),
    ("How do I translate this letter to English?", "How do I translate this letter into english?"),
    ("Tomorrow, will it rain in London?", "Will it rain in London tomorrow?"),
    # synonyms that WordNet also lists as antonyms in another sense; "when" in a statement
    ("The parameter is used to set the timeout.", "The parameter is utilized to set the timeout."),
    (
        "When a file is missing, the loader raises an error.",
        "If a file is missing, the loader raises an error.",
    ),
]


@pytest.mark.parametrize(("stored", "asked"), EXPLAINED)
def test_explained_differences_hit(make_cache: MakeCache, stored: str, asked: str) -> None:
    assert _served(make_cache(), stored, asked, "e")


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        ("How do I generate an API key?", "How do I create an API key?"),  # verb hypernym
        ("What is ML used for?", "What is Machine Learning used for?"),  # acronym
        ("What does the `Table` class do?", "What does the Table class do?"),  # quoted name
        ("List the files with os.listdir()", "List the files with the listdir() function of os"),
        ("Are there thousands of users?", "Are there several thousand users?"),  # magnitude
        ("Once the data is loaded, can I filter it?", "After the data is loaded, can I filter it?"),
    ],
)
def test_verifier_explains(query: str, candidate: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert verdict.accepted, verdict.reason


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        ("Do you like horror movies?", "Do you dislike horror movies?", "antonym"),
        ("Turn the lights on", "Turn the lights off", "antonym"),
        ("Is it safe to take aspirin?", "Is it not safe to take aspirin?", "negation"),
        ("Is this recipe vegan?", "Is this recipe vegetarian?", "unexplained"),
        ("Should I take it once a day?", "Should I take it twice a day?", "number"),
        ("Are there hundreds of users?", "Are there thousands of users?", "number"),
        ("Print the 'hello world' string", "Print the 'world hello' string", "quote"),
        ("Which phone is the note4g?", "Which phone is the note4oz?", "unexplained"),
        (
            "Why is the first test slower than the second test?",
            "Why is the second test slower than the first test?",
            "roles",
        ),
    ],
)
def test_near_misses_still_refused(query: str, candidate: str, code: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert not verdict.accepted
    assert verdict.reason.startswith(code), verdict.reason


def test_wordnet_hypernyms_and_shared_synsets() -> None:
    lex = load_lexicon()
    assert lex is not None
    assert lex.broader("generates", "produces") and lex.broader("create", "generate")
    assert not lex.broader("buy", "sell") and not lex.broader("vegan", "vegetarian")
    assert lex.same_synset("used", "utilized") and not lex.same_synset("safe", "unsafe")


def test_lexicon_extract_round_trips_through_json() -> None:
    from langchain_tokenopt.cache.lexicon import _from_json, _to_json

    lex = load_lexicon()
    assert lex is not None
    again = _from_json(_to_json(lex, "sig"), "sig")
    assert again is not None
    assert again.hypernyms == lex.hypernyms and again.heads == lex.heads
    assert again.synsets == lex.synsets and again.antonym_pairs == lex.antonym_pairs
    assert again.broader("generates", "produces") and again.antonyms("safe", "unsafe")
    assert _from_json(_to_json(lex, "sig"), "other") is None  # stale: parsed again


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        # question words that ask for the same type of answer (issue 22, second round)
        ("When does the museum open?", "What time does the museum open?"),
        ("When is the library closed?", "On what day is the library closed?"),
        ("How long does the train ride take?", "How many hours does the train ride take?"),
        ("Until when can I cancel my booking?", "How many days do I have to cancel my booking?"),
        ("The museum app crashes, what is wrong?", "Why does the museum app crash?"),
        ("Do I pay a fee when I cancel my booking?", "Is there a fee to cancel my booking?"),
        # the same event after the same temporal preposition, in other forms
        (
            "Can I change the delivery address after ordering?",
            "Can I change the delivery address after placing an order?",
        ),
        (
            "What should I do before running the tests?",
            "What should I do before executing the tests?",
        ),
    ],
)
def test_same_answer_type_is_explained(query: str, candidate: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert verdict.accepted, verdict.reason


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        ("When does the museum open?", "Where does the museum open?", "question"),
        ("How long does the ferry take?", "When does the ferry leave?", "question"),
        ("How does the heater work?", "Why does the heater work?", "question"),
        # temporal prepositions: before, during and after an event are three times
        ("Can I swim during a thunderstorm?", "Can I swim after a thunderstorm?", "antonym"),
        ("Should I eat before a long run?", "Should I eat during a long run?", "antonym"),
        # a changed event after the same temporal preposition
        (
            "Can I change the seat after paying for the ticket?",
            "Can I change the seat after boarding the train?",
            "unexplained",
        ),
        # ... even when WordNet relates the two events ("place" is a hypernym of "ship";
        # "placing" is "order" in one sense, and "order" is the word both sides share)
        (
            "Can I change the delivery address after the order has shipped?",
            "Can I change the delivery address after placing an order?",
            "unexplained",
        ),
        (
            "Can I get a refund before the parcel is delivered?",
            "Can I get a refund before the parcel is sent?",
            "unexplained",
        ),
        # two comparatives, one on each side, in a reworded question: two degrees asked
        (
            "How can I make an avocado ripen slower?",
            "Is there a way to make avocados ripen sooner?",
            "unexplained",
        ),
        # two currencies exchanged around "to", however reworded the rest is
        (
            "How do I change my euros to dollars using the app?",
            "How do I convert dollars to euros in the app?",
            "roles",
        ),
        # a name is not an alias of a one-letter abbreviation ("MB" is "M" in WordNet)
        (
            "Which is better: 4GB AMD Radeon R7 M270 or 2GB NVIDIA GeForce 840M?",
            "Which is better: 4GB AMD Radeon R7 M270 or 2MB NVIDIA GeForce 840M?",
            "entity",
        ),
        # a modifier or an extreme only one side has narrows the question
        ("How heavy can a suitcase be?", "How heavy can a cabin suitcase be?", "unexplained"),
        (
            "What age do I need to ride a scooter?",
            "What is the maximum age to ride a scooter?",
            "unexplained",
        ),
    ],
)
def test_real_differences_refused(query: str, candidate: str, code: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert not verdict.accepted
    assert verdict.reason.startswith(code), verdict.reason
    back = NearMissVerifier().verify(candidate, query, 0.95)
    assert not back.accepted, "the difference is refused both ways"


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        # two satellites of one WordNet adjective cluster are alternatives
        ("Is the weekly pass valid on buses?", "Is the yearly pass valid on buses?", "unexplained"),
        # the same number bounded from opposite sides
        (
            "Is parking free for stays over 3 hours?",
            "Is parking free for stays under 3 hours?",
            "number",
        ),
        (
            "Do trips longer than 20 miles cost extra?",
            "Do trips shorter than 20 miles cost extra?",
            "number",
        ),
        # opposite particles on the same word, written with a hyphen
        (
            "When is the gym sign-in desk staffed?",
            "When is the gym sign-out desk staffed?",
            "antonym",
        ),
        # names exchanged around a role marker, however reworded the rest is
        (
            "Convert 40 Kelvin to Rankine for my lab, please.",
            "How would I convert 40 degrees Rankine to Kelvin for my lab?",
            "roles",
        ),
    ],
)
def test_alternatives_bounds_particles_names_refused(query: str, candidate: str, code: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert not verdict.accepted
    assert verdict.reason.startswith(code), verdict.reason


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        (
            "Is parking free for stays over 3 hours?",
            "Is parking free for stays of more than 3 hours?",
        ),
        ("How do I make my bread rise quickly?", "How do I make my bread rise fast?"),
        ("Can I pay in installments?", "Can I pay in several installments?"),  # a quantifier
        # a normative adjective names what the bare question asks for
        (
            "What is the tire pressure for my bike?",
            "What is the correct tire pressure for my bike?",
        ),
        # after a subject pronoun comes a verb, not a modifier
        ("Do I salt the pasta water?", "Should I add salt to the pasta water?"),
    ],
)
def test_same_bound_and_cluster_synonyms_hit(query: str, candidate: str) -> None:
    verdict = NearMissVerifier().verify(query, candidate, 0.95)
    assert verdict.accepted, verdict.reason


def test_lexicon_siblings_and_modifiers() -> None:
    lex = load_lexicon()
    assert lex is not None
    assert lex.siblings("weekly", "yearly") and not lex.siblings("quick", "fast")
    assert lex.is_modifier("express") and not lex.is_modifier("quickly")


def test_lexicon_knows_nouns() -> None:
    lex = load_lexicon()
    assert lex is not None
    assert lex.is_noun("laptops") and lex.is_noun("suitcase")
    assert not lex.is_noun("quickly")


@pytest.mark.parametrize(
    ("query", "candidate"),
    [
        # one country, another of its names (WordNet synsets of names), a demonym's plural
        (
            "Do Germans need a visa to visit the United States?",
            "Do I need a visa to visit the USA as a German citizen?",
        ),
        ("Is a visa required for Germans visiting the US?", "Do Germans need a visa for America?"),
        # an acronym spelt by lowercase, hyphenated words
        (
            "How do I move MFA to another phone?",
            "How do I move multi-factor authentication to another phone?",
        ),
        # a word reworded by its synonym is not an antonym of a third word ("select" /
        # "base" as adjectives), and a modal is never one ("can" / "employ")
        (
            "It selects a schema field by its column name.",
            "It chooses a schema field based on its column name.",
        ),
        ("Dask can use multiple threads.", "Dask may be employed to utilize multiple threads."),
        # a negation balanced by a word that negates by its meaning, on the other side
        (
            "The method creates a new table without the indicated column.",
            "A new table is created by the method, omitting the indicated column.",
        ),
        ("Is the config file missing?", "Is the config file not there?"),
        # a long statement with its clauses reordered: no role exchange
        (
            "The `export()` method of the reporting module should be used to write the monthly"
            " sales report file named in `REPORT_PATH`.",
            "The `REPORT_PATH` should be used with the `export()` method of the reporting module"
            " to write the monthly sales report file.",
        ),
        # any double quote mark quotes; enumeration labels are not numbers
        (
            "The manager uses the ”::” separator to navigate archives.",
            'The manager uses the "::" separator to navigate archives.',
        ),
        (
            "It works in two steps: 1) it downloads the files, and 2) it builds the dataset.",
            "It works in two steps: it downloads the files, and then it builds the dataset.",
        ),
    ],
)
def test_aliases_synonyms_and_labels_are_explained(query: str, candidate: str) -> None:
    verifier = NearMissVerifier()
    assert verifier.explain(query, candidate) == ""
    assert verifier.explain(candidate, query) == ""


@pytest.mark.parametrize(
    ("query", "candidate", "code"),
    [
        ("Do I need a visa for the UK?", "Do I need a visa for the US?", "entity"),
        ("Take 1) pill now", "Take 2) pills now", "number"),  # one label is a number
        # a word that negates by meaning on both sides balances nothing
        ("Why do students fail exams?", "Why do students not fail exams?", "negation"),
        ('Print "hello world" please', "Print ‘hello there’ please", "quote"),
    ],
)
def test_aliases_and_labels_stay_narrow(query: str, candidate: str, code: str) -> None:
    assert NearMissVerifier().explain(query, candidate).startswith(code)
