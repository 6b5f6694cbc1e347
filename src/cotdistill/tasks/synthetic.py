"""Built-in synthetic tasks with computed step-by-step reference rationales.

`synth-last-letters`, `synth-coin-flip`, `synth-arithmetic` and `synth-shuffled-objects` generate any
number of questions from a seed. A question belongs to the test split when a hash of its text falls
in the test bucket (1 in 5), otherwise to train, so the two splits never share a question whatever
their sizes. Each record keeps its structured problem in `meta["spec"]`; `reference_rationale`
re-solves it step by step in randomly varied wording, optionally with one wrong step (the offline
"reference teacher").
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cotdistill.answers import format_number, target_answer
from cotdistill.errors import CotdistillError
from cotdistill.records import CHOICE_LETTERS, AnswerType, Record
from cotdistill.tasks.registry import register

DEFAULT_SIZE = {"train": 1000, "test": 200}
TEST_BUCKETS = 2  # of 10: a question whose hash bucket is below this belongs to the test split

NAMES = (
    "Alice Bob Claire Dave Eve Frank Grace Henry Irene Jack Kate Leo Maria Nina Oscar Paula Quinn Rosa Sam "
    "Tina Umar Vera Walter Xena Yusuf Zoe Aaron Bella Carlos Diana Elena Felix Gina Hugo Ivy Jonas Karen Liam "
    "Mona Nora Omar Pedro Rita Simon Tessa Uma Victor Wendy Yara Zack Amir Brenda Cyrus Daria Emil Fiona Gavin "
    "Helga Ines Joel Kira Lorenzo Mei Nadia Olga Pablo Ruth Stefan Tomas Ursula Vivian Wanda Xavier Yvonne Zelda "
    "Abel Beatrix Cedric Doris Edgar Flora Gideon Hazel Igor Judith Kevin Lucy Marcus Noel Opal Percy Reggie "
    "Selma Tobias Valerie Whitney Erika Benito Lucky Mireya"
).split()
COLOURS = "red blue green yellow purple orange white black pink brown grey gold".split()
OBJECT_KINDS = ("ball", "book", "hat", "present", "scarf")
ITEMS = "apples marbles stickers pencils cookies stamps shells cards coins books".split()
FRIENDS = "his sister|her brother|a friend|a neighbour|the teacher|a classmate".split("|")


def _pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def _final(answer: str) -> str:
    return f"The answer is {answer}."


# ---------------------------------------------------------------------------- last-letter concatenation


def _last_letters_spec(rng: random.Random, n_words: int) -> dict:
    return {"words": rng.sample(NAMES, n_words)}


def _last_letters_question(spec: dict) -> str:
    return f'Take the last letter of each word in "{" ".join(spec["words"])}" and concatenate them.'


def _last_letters_answer(spec: dict) -> str:
    return "".join(word[-1].lower() for word in spec["words"])


def _last_letters_steps(spec: dict, rng: random.Random, wrong: int | None) -> tuple[list[str], str]:
    running = rng.random() < 0.5  # say the partial concatenation after every word, or only at the end
    steps, letters = [], ""
    for i, word in enumerate(spec["words"]):
        letter = word[-1].lower()
        if i == wrong:
            letter = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != letter])
        letters += letter
        sentence = _pick(rng, f'The last letter of "{word}" is "{letter}".', f'"{word}" ends with "{letter}".',
                         f'The word "{word}" ends in the letter "{letter}".')
        if running and i > 0:
            sentence += " " + _pick(rng, f'So far that gives "{letters}".', f'Together we have "{letters}".',
                                    f'Appending it gives "{letters}".')
        steps.append(sentence)
    if not running:
        steps.append(_pick(rng, f'Concatenating these letters gives "{letters}".',
                           f'Putting the letters together gives "{letters}".', f'Joined up they spell "{letters}".'))
    return steps, letters


# -------------------------------------------------------------------------------------------- coin flip


def _coin_spec(rng: random.Random, n_people: int) -> dict:
    return {"people": rng.sample(NAMES, n_people), "flips": [rng.random() < 0.5 for _ in range(n_people)]}


def _coin_question(spec: dict) -> str:
    acts = [f"{p} flips the coin." if f else f"{p} does not flip the coin." for p, f in zip(spec["people"], spec["flips"])]
    return f"A coin is heads up. {' '.join(acts)} Is the coin still heads up? Note that \"flip\" here means \"reverse\"."


def _coin_answer(spec: dict) -> str:
    return "yes" if sum(spec["flips"]) % 2 == 0 else "no"


def _coin_steps(spec: dict, rng: random.Random, wrong: int | None) -> tuple[list[str], str]:
    if rng.random() < 0.5:  # track the state person by person
        heads, steps = True, [_pick(rng, "The coin starts heads up.", "At the start the coin is heads up.")]
        for i, (person, flips) in enumerate(zip(spec["people"], spec["flips"])):
            heads = heads != flips if i != wrong else heads == flips  # a wrong step gets this flip backwards
            side = "heads up" if heads else "tails up"
            if flips:
                steps.append(_pick(rng, f"{person} flips the coin, so it is now {side}.",
                                   f"After {person} flips it, the coin is {side}.", f"{person} reverses it: {side}."))
            else:
                steps.append(_pick(rng, f"{person} does not flip the coin, so it stays {side}.",
                                   f"{person} leaves it alone; it is {side}.", f"{person} does not touch it, still {side}."))
        answer = "yes" if heads else "no"
        steps.append(_pick(rng, f"The coin ends {side}.", f"So it finishes {side}.", f"In the end it is {side}."))
        return steps, answer
    flippers = [p for p, f in zip(spec["people"], spec["flips"]) if f]
    count = len(flippers) + (1 if wrong is not None else 0)  # a wrong step miscounts by one
    listed = ", ".join(flippers) if flippers else "nobody"
    steps = [_pick(rng, f"The coin is flipped by {listed}.", f"The people who flip the coin are: {listed}."),
             _pick(rng, f"That makes {count} flip{'s' if count != 1 else ''}.", f"So it is flipped {count} times.")]
    even = count % 2 == 0
    steps.append(_pick(rng, f"An {'even' if even else 'odd'} number of flips leaves the coin {'heads' if even else 'tails'} up.",
                       f"Since {count} is {'even' if even else 'odd'}, the coin ends {'heads' if even else 'tails'} up."))
    return steps, "yes" if even else "no"


# ------------------------------------------------------------------------------ multi-step arithmetic


def _arith_spec(rng: random.Random, n_steps: int) -> dict:
    value = rng.randint(5, 60)
    spec = {"name": rng.choice(NAMES), "item": rng.choice(ITEMS), "start": value, "ops": []}
    for _ in range(n_steps):
        kinds = ["gain", "packs", "double"] + (["lose"] if value > 2 else [])
        divisors = [p for p in range(2, 7) if value % p == 0 and value // p > 1]
        kinds += ["share"] if divisors else []
        kind = rng.choice(kinds)
        if kind == "gain":
            op = {"kind": kind, "k": rng.randint(2, 30)}
        elif kind == "lose":
            op = {"kind": kind, "k": rng.randint(1, value - 1), "friend": rng.choice(FRIENDS)}
        elif kind == "packs":
            op = {"kind": kind, "n": rng.randint(2, 6), "m": rng.randint(2, 12)}
        elif kind == "double":
            op = {"kind": kind, "factor": rng.choice([2, 3])}
        else:
            op = {"kind": kind, "p": rng.choice(divisors)}
        value = _apply(value, op)
        spec["ops"].append(op)
    return spec


def _apply(value: float, op: dict) -> float:
    kind = op["kind"]
    if kind == "gain":
        return value + op["k"]
    if kind == "lose":
        return value - op["k"]
    if kind == "packs":
        return value + op["n"] * op["m"]
    if kind == "double":
        return value * op["factor"]
    shared = value / op["p"]
    return int(shared) if float(shared).is_integer() else shared  # a slipped step may not divide evenly


def _arith_question(spec: dict) -> str:
    name, item = spec["name"], spec["item"]
    parts = [f"{name} has {spec['start']} {item}."]
    for op in spec["ops"]:
        kind = op["kind"]
        if kind == "gain":
            parts.append(f"Then {name} gets {op['k']} more {item}.")
        elif kind == "lose":
            parts.append(f"Then {name} gives {op['k']} {item} to {op['friend']}.")
        elif kind == "packs":
            parts.append(f"Then {name} buys {op['n']} packs with {op['m']} {item} in each pack.")
        elif kind == "double":
            parts.append(f"Then the number of {item} {name} has {'doubles' if op['factor'] == 2 else 'triples'}.")
        else:
            parts.append(f"Then {name} splits the {item} equally into {op['p']} boxes and keeps one box.")
    parts.append(f"How many {item} does {name} have now?")
    return " ".join(parts)


def _arith_answer(spec: dict) -> str:
    value = spec["start"]
    for op in spec["ops"]:
        value = _apply(value, op)
    return format_number(value)


def _slip(value: float, rng: random.Random) -> float:
    """A plausible arithmetic slip: off by one to three, either way, never the same value."""
    return value + rng.choice([-3, -2, -1, 1, 2, 3])


def _arith_steps(spec: dict, rng: random.Random, wrong: int | None) -> tuple[list[str], str]:
    name, item, n = spec["name"], spec["item"], format_number
    value = spec["start"]
    steps = [_pick(rng, f"{name} starts with {value} {item}.", f"At first {name} has {value} {item}.",
                   f"In the beginning there are {value} {item}.")]
    for i, op in enumerate(spec["ops"]):
        new = _apply(value, op)
        if i == wrong:
            new = _slip(new, rng)
        kind, v, w = op["kind"], n(value), n(new)
        if kind == "gain":
            steps.append(_pick(rng, f"After getting {op['k']} more, {name} has {v} + {op['k']} = {w} {item}.",
                               f"{v} + {op['k']} = {w}, so now there are {w} {item}.",
                               f"Adding {op['k']} gives {v} + {op['k']} = {w}."))
        elif kind == "lose":
            steps.append(_pick(rng, f"Giving away {op['k']} leaves {v} - {op['k']} = {w} {item}.",
                               f"{v} - {op['k']} = {w}, so {name} has {w} {item} left.",
                               f"After handing {op['k']} to {op['friend']}, {name} has {v} - {op['k']} = {w}."))
        elif kind == "packs":
            total = op["n"] * op["m"]
            steps.append(_pick(rng, f"{op['n']} packs of {op['m']} is {op['n']} * {op['m']} = {total} {item}, "
                                    f"so {name} now has {v} + {total} = {w}.",
                               f"The packs hold {op['n']} x {op['m']} = {total} {item}. Then {v} + {total} = {w}.",
                               f"Buying {op['n']} * {op['m']} = {total} more makes {v} + {total} = {w} {item}."))
        elif kind == "double":
            word = "Doubling" if op["factor"] == 2 else "Tripling"
            steps.append(_pick(rng, f"{word} gives {v} * {op['factor']} = {w} {item}.",
                               f"{v} * {op['factor']} = {w}, so {name} now has {w} {item}.",
                               f"The {item} become {v} x {op['factor']} = {w}."))
        else:
            steps.append(_pick(rng, f"Splitting into {op['p']} boxes gives {v} / {op['p']} = {w} {item} per box.",
                               f"{v} / {op['p']} = {w}, and {name} keeps one box, so {w} {item}.",
                               f"Each of the {op['p']} boxes gets {v} / {op['p']} = {w}."))
        value = new
    steps.append(_pick(rng, f"So {name} has {n(value)} {item} now.", f"That leaves {name} with {n(value)} {item}.",
                       f"In the end there are {n(value)} {item}."))
    return steps, n(value)


# ------------------------------------------------------------------------------------ shuffled objects


def _objects_spec(rng: random.Random, n_people: int, n_swaps: int) -> dict:
    people = rng.sample(NAMES, n_people)
    kind = rng.choice(OBJECT_KINDS)
    objects = [f"{colour} {kind}" for colour in rng.sample(COLOURS, n_people)]
    swaps = [rng.sample(range(n_people), 2) for _ in range(n_swaps)]
    return {"people": people, "kind": kind, "objects": objects, "swaps": swaps, "asked": rng.randrange(n_people)}


def _holdings(spec: dict, skip: int | None = None) -> list[str]:
    held = list(spec["objects"])
    for i, (a, b) in enumerate(spec["swaps"]):
        if i != skip:
            held[a], held[b] = held[b], held[a]
    return held


def _objects_question(spec: dict) -> str:
    people, kind = spec["people"], spec["kind"]
    names = ", ".join(people[:-1]) + f", and {people[-1]}"
    start = ", ".join(f"{p} has a {o}" for p, o in zip(people, spec["objects"]))
    order = ["First"] + ["Then"] * (len(spec["swaps"]) - 2) + ["Finally"] if len(spec["swaps"]) > 1 else ["First"]
    swaps = " ".join(f"{word}, {people[a]} and {people[b]} swap {kind}s." for word, (a, b) in zip(order, spec["swaps"]))
    return (f"{names} are playing a game. At the start of the game, they are each holding a {kind}: {start}. "
            f"As the game progresses, pairs of players trade {kind}s. {swaps} "
            f"At the end of the game, which {kind} does {people[spec['asked']]} have?")


def _objects_choices(spec: dict) -> list[str]:
    return sorted(spec["objects"])  # a fixed order that does not reveal the answer


def _objects_answer(spec: dict) -> str:
    return CHOICE_LETTERS[_objects_choices(spec).index(_holdings(spec)[spec["asked"]])]


def _objects_steps(spec: dict, rng: random.Random, wrong: int | None) -> tuple[list[str], str]:
    people, held = spec["people"], list(spec["objects"])
    steps = [_pick(rng, "At the start: ", "Initially, ", "To begin with, ") +
             ", ".join(f"{p} has the {o}" for p, o in zip(people, held)) + "."]
    for i, (a, b) in enumerate(spec["swaps"]):
        if i != wrong:  # a wrong step forgets to swap but reports it as done
            held[a], held[b] = held[b], held[a]
        steps.append(_pick(rng, f"After {people[a]} and {people[b]} swap, {people[a]} has the {held[a]} and "
                                f"{people[b]} has the {held[b]}.",
                           f"{people[a]} and {people[b]} trade: now {people[a]} holds the {held[a]} and "
                           f"{people[b]} the {held[b]}.",
                           f"Swap {i + 1}: {people[a]} gets the {held[a]}, {people[b]} gets the {held[b]}."))
    asked = people[spec["asked"]]
    steps.append(_pick(rng, f"So at the end {asked} has the {held[spec['asked']]}.",
                       f"{asked} finishes with the {held[spec['asked']]}."))
    choices = _objects_choices(spec)
    return steps, CHOICE_LETTERS[choices.index(held[spec["asked"]])]


# ------------------------------------------------------------------------------------- the generators


@dataclass(frozen=True)
class Generator:
    """One synthetic task: how to draw a problem, state it, answer it and solve it step by step."""

    answer_type: AnswerType
    draw: Callable[..., dict]  # (rng, **options) -> spec
    question: Callable[[dict], str]
    answer: Callable[[dict], str]
    steps: Callable[[dict, random.Random, int | None], tuple[list[str], str]]  # (sentences, final answer)
    n_steps: Callable[[dict], int]  # how many steps a wrong step can be put in
    choices: Callable[[dict], list[str]] | None = None


GENERATORS: dict[str, Generator] = {
    "synth-last-letters": Generator(AnswerType.text, _last_letters_spec, _last_letters_question,
                                    _last_letters_answer, _last_letters_steps, lambda s: len(s["words"])),
    "synth-coin-flip": Generator(AnswerType.yes_no, _coin_spec, _coin_question, _coin_answer, _coin_steps,
                                 lambda s: len(s["people"])),
    "synth-arithmetic": Generator(AnswerType.numeric, _arith_spec, _arith_question, _arith_answer, _arith_steps,
                                  lambda s: len(s["ops"])),
    "synth-shuffled-objects": Generator(AnswerType.multiple_choice, _objects_spec, _objects_question,
                                        _objects_answer, _objects_steps, lambda s: len(s["swaps"]),
                                        _objects_choices),
}


def reference_rationale(record: Record, rng: random.Random, error_rate: float = 0.0) -> str:
    """A fresh worked solution of a synthetic record in randomly varied wording.

    Ends with "The answer is X." (X as `target_answer` writes it). With probability `error_rate` one
    step is wrong, the later steps follow from it, and the final answer is wrong with it.
    """
    generator = GENERATORS.get(record.meta.get("generator", ""))
    spec = record.meta.get("spec")
    if generator is None or spec is None:
        raise CotdistillError(
            f"record {record.id} is not from a synthetic task (meta needs 'generator' and 'spec'); the reference "
            f"teacher works only for {', '.join(GENERATORS)}")
    if not 0.0 <= error_rate <= 1.0:
        raise CotdistillError(f"error_rate must be between 0 and 1, got {error_rate}")
    gold = generator.answer(spec)
    solution = _wrong_solution(generator, spec, gold, rng) if rng.random() < error_rate else None
    steps, final = solution or generator.steps(spec, rng, None)
    shown = target_answer(record.model_copy(update={"answer": final}))
    opening = rng.choice(["", "", "Let's think step by step. ", "Let's work it out. "])
    return opening + " ".join(steps) + " " + _final(shown)


def _wrong_solution(generator: Generator, spec: dict, gold: str, rng: random.Random) -> tuple[list[str], str]:
    """A solution with one wrong step whose final answer is wrong too."""
    order = list(range(generator.n_steps(spec)))
    rng.shuffle(order)
    for step in order:  # a wrong step that happens to keep the right answer does not count
        steps, final = generator.steps(spec, rng, step)
        if final != gold:
            return steps, final
    # Only shuffled objects get here (every forgotten swap left the asked object alone): the last
    # step names a wrong object instead.
    steps, _ = generator.steps(spec, rng, None)
    choices = generator.choices(spec)
    final = rng.choice([c for c in CHOICE_LETTERS[: len(choices)] if c != gold])
    steps[-1] = f"So at the end {spec['people'][spec['asked']]} has the {choices[CHOICE_LETTERS.index(final)]}."
    return steps, final


def _question_split(question: str) -> str:
    bucket = int(hashlib.sha256(question.encode()).hexdigest(), 16) % 10
    return "test" if bucket < TEST_BUCKETS else "train"


def generate(name: str, split: str, size: int | None = None, seed: int = 0, **options) -> list[Record]:
    """`size` distinct questions of one split, the same for the same seed and options."""
    generator = GENERATORS[name]
    size = DEFAULT_SIZE[split] if size is None else size
    if size < 0:
        raise CotdistillError(f"size must be 0 or more, got {size}")
    rng = random.Random(f"{name}|{seed}|{split}|{sorted(options.items())}")
    records, seen, attempts = [], set(), 0
    while len(records) < size:
        attempts += 1
        if attempts > 50 * size + 1000:
            raise CotdistillError(f"{name}: could only find {len(records)} distinct {split} questions for size "
                                  f"{size} with options {options}; lower size or widen the options")
        spec = generator.draw(rng, **options)
        question = generator.question(spec)
        if question in seen or _question_split(question) != split:
            continue
        seen.add(question)
        index = len(records)
        record = Record(
            id=f"{name}-{split}-{seed}-{index}", question=question,
            choices=generator.choices(spec) if generator.choices else None, answer=generator.answer(spec),
            answer_type=generator.answer_type,
            meta={"synthetic": True, "generator": name, "spec": spec, "seed": seed, "teacher": "reference"},
        )
        rationale = reference_rationale(record, random.Random(f"{record.id}|rationale"))
        record.rationales.append(rationale)
        record.meta["teacher_answers"] = [record.answer]
        records.append(record)
    return records


def _options(limit: int | None, size: int | None, seed: int) -> tuple[int | None, int]:
    # With only a limit, draw just that many instead of the default size (the first records are the same).
    return _as_int(size if size is not None else limit, "size"), _as_int(seed, "seed")


def _as_int(value, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CotdistillError(f"option {name} must be a whole number, got {value!r}") from None


_SOURCE = "synthetic + reference rationales"


@register("synth-last-letters", AnswerType.text, ("train", "test"), _SOURCE,
          "Concatenate the last letters of n_words names", needs_data_dir=False)
def load_synth_last_letters(split: str, data_dir: Path | None, *, limit: int | None = None, size: int | None = None,
                            seed: int = 0, n_words: int = 4) -> list[Record]:
    size, seed = _options(limit, size, seed)
    return generate("synth-last-letters", split, size, seed, n_words=_as_int(n_words, "n_words"))


@register("synth-coin-flip", AnswerType.yes_no, ("train", "test"), _SOURCE,
          "Is a coin still heads up after n_people people each flip it or not?", needs_data_dir=False)
def load_synth_coin_flip(split: str, data_dir: Path | None, *, limit: int | None = None, size: int | None = None,
                         seed: int = 0, n_people: int = 4) -> list[Record]:
    size, seed = _options(limit, size, seed)
    return generate("synth-coin-flip", split, size, seed, n_people=_as_int(n_people, "n_people"))


@register("synth-arithmetic", AnswerType.numeric, ("train", "test"), _SOURCE,
          "Multi-step arithmetic word problems with n_steps operations", needs_data_dir=False)
def load_synth_arithmetic(split: str, data_dir: Path | None, *, limit: int | None = None, size: int | None = None,
                          seed: int = 0, n_steps: int = 3) -> list[Record]:
    size, seed = _options(limit, size, seed)
    return generate("synth-arithmetic", split, size, seed, n_steps=_as_int(n_steps, "n_steps"))


@register("synth-shuffled-objects", AnswerType.multiple_choice, ("train", "test"), _SOURCE,
          "Track objects through n_swaps pairwise swaps among n_people", needs_data_dir=False)
def load_synth_shuffled_objects(split: str, data_dir: Path | None, *, limit: int | None = None,
                                size: int | None = None, seed: int = 0, n_people: int = 3,
                                n_swaps: int = 3) -> list[Record]:
    size, seed = _options(limit, size, seed)
    return generate("synth-shuffled-objects", split, size, seed, n_people=_as_int(n_people, "n_people"),
                    n_swaps=_as_int(n_swaps, "n_swaps"))
