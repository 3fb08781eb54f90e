"""The model catalog as a tree grouped by book chapter; posts Catalog.ModelChosen."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Tree

from d2ltui.zoo.registry import ModelSpec, all_specs

SHORT_TITLES = {  # display only: the registry keeps the book's chapter names
    "Linear networks": "Linear", "Multilayer perceptrons": "MLP", "Convolutional networks": "CNN",
    "Modern CNNs": "Modern CNN", "Recurrent networks": "RNN", "Encoder-decoder": "Seq2seq", "Computer vision": "Vision",
    "Attention and Transformers": "Attention",
}


def chapter_label(chapter: str) -> str:
    """'5 Multilayer perceptrons' -> 'Ch 5 MLP': fits the catalog's column at 80x24."""
    number, _, title = chapter.partition(" ")
    if not number[:1].isdigit():
        return chapter
    return f"Ch {number} {SHORT_TITLES.get(title, title)}".rstrip()


class Catalog(Tree[str]):
    """Chapters as branches, models as leaves. Highlighting a model chooses it."""

    class ModelChosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__("models", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.specs: dict[str, ModelSpec] = {s.name: s for s in all_specs()}

    def on_mount(self) -> None:
        chapters: dict[str, list[ModelSpec]] = {}
        for spec in self.specs.values():
            chapters.setdefault(spec.chapter, []).append(spec)
        for chapter, specs in chapters.items():
            branch = self.root.add(chapter_label(chapter), expand=True)
            for spec in specs:
                branch.add_leaf(spec.name, data=spec.name)

    def select_model(self, name: str) -> None:
        """Move the cursor to `name` (which chooses it)."""
        for node in self.root.children:
            for leaf in node.children:
                if leaf.data == name:
                    self.move_cursor(leaf)
                    return

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data:
            self.post_message(self.ModelChosen(event.node.data))
