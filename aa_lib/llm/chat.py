"""A tokenizer's chat template, cut into the pieces that incremental (KV-cached) play appends.

Rollouts never re-render a whole chat: each seat's token sequence only grows. For a
*prefix-stable* template (rendering a longer chat extends the rendering of a shorter one, as
the tiny model's and Qwen2.5's templates do) the rendering of a chat
``user_1, assistant_1, user_2, assistant_2, ...`` with a final generation prompt is

    opening + u_1 + reply_header + a_1 + footer + user_header + u_2 + reply_header + a_2 + footer + ...

:class:`ChatFormat` finds these five strings by rendering chats of placeholder words, and
checks that the template really has this shape (ValueError otherwise). Token ids are
``tokens(opening)``, then per user turn ``tokens(header + content + reply_header)``, then the
answer's own token ids, then ``tokens(footer)``; a test checks this against
``tokenizer.apply_chat_template`` for the tiny model.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

__all__ = ["ChatFormat", "chat_format"]

_MARKS = ("zqxuserone", "zqxassistantone", "zqxusertwo", "zqxassistanttwo")


def _render(tokenizer, messages, add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _split_once(text: str, mark: str, what: str):
    if text.count(mark) != 1:
        raise ValueError(f"the tokenizer's chat template does not render each message's content exactly once "
                         f"({what}); incremental rollouts need a plain chat template")
    return text.split(mark)


class ChatFormat:
    """The pieces of a tokenizer's chat template (see the module docstring).

    Attributes:
        opening, reply_header, footer, user_header: the template's fixed strings.
        opening_ids: ``tokens(opening)`` (never empty: every row starts with it).
        footer_ids: ``tokens(footer)``, appended after every answer.
        eos_id: the tokenizer's EOS id; when the footer starts with it, a message that ended with a
            sampled EOS gets only the rest of the footer.
    """

    def __init__(self, tokenizer):
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("the tokenizer has no chat template; rollouts render chats with it "
                             "(set tokenizer.chat_template)")
        u1, a1, u2, a2 = _MARKS
        user = lambda text: {"role": "user", "content": text}  # noqa: E731
        assistant = lambda text: {"role": "assistant", "content": text}  # noqa: E731
        first = _render(tokenizer, [user(u1)], True)
        self.opening, self.reply_header = _split_once(first, u1, "first user turn")
        answered = _render(tokenizer, [user(u1), assistant(a1)], False)
        if not answered.startswith(first):
            raise ValueError("the tokenizer's chat template is not prefix-stable (the answered chat does not "
                             "extend the generation prompt); incremental rollouts cannot use it")
        rest_a1, self.footer = _split_once(answered[len(first):], a1, "first answer")
        second = _render(tokenizer, [user(u1), assistant(a1), user(u2)], True)
        if rest_a1 or not second.startswith(answered):
            raise ValueError("the tokenizer's chat template is not prefix-stable (a later turn changes how "
                             "earlier turns render); incremental rollouts cannot use it")
        self.user_header, later_reply = _split_once(second[len(answered):], u2, "second user turn")
        if later_reply != self.reply_header:
            raise ValueError("the tokenizer's chat template ends the first and later user turns differently")
        self.tokenizer = tokenizer
        self._cache: Dict[str, List[int]] = {}
        self._cache_limit = 100_000
        self.template = tokenizer.chat_template
        self.eos_id = tokenizer.eos_token_id
        self.opening_ids = self.encode([self.opening])[0]
        self.footer_ids = self.encode([self.footer])[0] if self.footer else []
        if not self.opening_ids:
            raise ValueError("the chat template's opening renders no token; every row of a rollout must start "
                             "with at least one token (add a BOS or a role header to the template)")

    def encode(self, texts: Sequence[str]) -> List[List[int]]:
        """Token ids of each text, without special tokens added by the tokenizer itself.

        Texts seen before come from a cache (game prompts repeat a lot); the others are encoded in
        one batched call. The returned lists are fresh copies.
        """
        if len(self._cache) > self._cache_limit:
            self._cache.clear()
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, ids in zip(missing, self.tokenizer(missing, add_special_tokens=False)["input_ids"]):
                self._cache[text] = list(ids)
        return [list(self._cache[t]) for t in texts]

    def user_turn_texts(self, contents: Sequence[str], first: bool) -> List[str]:
        """The strings that a user turn appends (the opening is fed separately, see ``opening_ids``)."""
        header = "" if first else self.user_header
        return [header + content + self.reply_header for content in contents]

    def footer_after(self, ended_with_eos: bool) -> List[int]:
        """Footer tokens to append after an answer (minus its leading EOS if the model sampled it)."""
        if ended_with_eos and self.footer_ids and self.footer_ids[0] == self.eos_id:
            return self.footer_ids[1:]
        return list(self.footer_ids)

    def chat_ids(self, chat: Sequence[Dict[str, str]]) -> List[List[int]]:
        """Token ids of a whole chat (alternating user / assistant messages, user first), as pieces.

        Returns a list of pieces; odd pieces (index 1, 3, ...) are the assistant answers' own tokens
        followed by EOS when the footer starts with it (what a model must generate to end a message),
        even pieces are template and user tokens. Used to pre-train the prior on exactly the token
        sequences that rollouts present.
        """
        pieces: List[List[int]] = []
        context = list(self.opening_ids)
        for i, message in enumerate(chat):
            expected = "user" if i % 2 == 0 else "assistant"
            if message.get("role") != expected:
                raise ValueError(f"chat message {i} must have role {expected!r}, got {message.get('role')!r}")
            if expected == "user":
                context += self.encode(self.user_turn_texts([message["content"]], first=i == 0))[0]
            else:
                answer = self.encode([message["content"]])[0]
                ends = bool(self.footer_ids) and self.footer_ids[0] == self.eos_id
                pieces += [context, answer + ([self.eos_id] if ends else [])]
                context = self.footer_after(ended_with_eos=ends)
        if context:
            pieces.append(context)
        return pieces


def chat_format(tokenizer) -> ChatFormat:
    """The (cached) :class:`ChatFormat` of ``tokenizer``."""
    cached = getattr(tokenizer, "_aa_chat_format", None)
    if cached is None or cached.tokenizer is not tokenizer or cached.template != tokenizer.chat_template:
        cached = ChatFormat(tokenizer)
        try:
            tokenizer._aa_chat_format = cached
        except AttributeError:  # pragma: no cover - tokenizers that forbid new attributes
            pass
    return cached
