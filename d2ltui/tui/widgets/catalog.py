"""The catalog as a tree grouped by book chapter: models (posts Catalog.ModelChosen) and labs (Catalog.LabChosen)."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree

from d2ltui.labs.registry import LabSpec, all_labs
from d2ltui.zoo.registry import ModelSpec, all_specs, chapter_order

LAB = "lab:"  # a lab leaf's data is LAB + its name
OPEN = "open:"  # the "Open a model…" leaf; the models you opened follow it
OWN = "Your models"

SHORT_TITLES = {  # display only: the registry keeps the book's chapter names
    "Linear networks": "Linear", "Multilayer perceptrons": "MLP", "Convolutional networks": "CNN",
    "Modern CNNs": "Modern CNN", "Recurrent networks": "RNN", "Encoder-decoder": "Seq2seq", "Computer vision": "Vision",
    "Attention and Transformers": "Attention", "Reinforcement learning": "RL", "Generative adversarial networks": "GAN",
    "Optimization algorithms": "Optimization", "Gaussian processes": "GP",
}


def chapter_label(chapter: str) -> str:
    """'5 Multilayer perceptrons' -> 'Ch 5 MLP': fits the catalog's column at 80x24."""
    number, _, title = chapter.partition(" ")
    if not number[:1].isdigit():
        return chapter
    return f"Ch {number} {SHORT_TITLES.get(title, title)}".rstrip()


class Catalog(Tree[str]):
    """Chapters as branches, models then labs (in italics) as leaves. Highlighting a model chooses it;
    selecting a lab (enter, click) opens it."""

    class ModelChosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class LabChosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class LabHighlighted(LabChosen):
        """The cursor rests on a lab (enter opens it)."""

    class OpenRequested(Message):
        """Enter on "Open a model…"."""

    def __init__(self, **kwargs) -> None:
        super().__init__("models", **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.specs: dict[str, ModelSpec] = {s.name: s for s in all_specs()}
        self.labs: dict[str, LabSpec] = {s.name: s for s in all_labs()}

    def on_mount(self) -> None:
        chapters: dict[str, list[ModelSpec | LabSpec]] = {}
        for spec in [*self.specs.values(), *self.labs.values()]:
            chapters.setdefault(spec.chapter, []).append(spec)
        for chapter in sorted(chapters, key=chapter_order):
            branch = self.root.add(chapter_label(chapter), expand=True)
            for spec in chapters[chapter]:
                if isinstance(spec, LabSpec):
                    branch.add_leaf(Text(spec.name, style="italic"), data=LAB + spec.name)
                else:
                    branch.add_leaf(spec.name, data=spec.name)
        from d2ltui.tui.widgets.open_model import recent_models

        self.own = self.root.add(OWN, expand=True)
        self.own.add_leaf(Text("Open a model…", style="bold"), data=OPEN)
        for ref in recent_models():
            self.own.add_leaf(ref, data=ref)

    def add_own(self, ref: str) -> None:
        """Show `ref` first among your models (once)."""
        for leaf in list(self.own.children):
            if leaf.data == ref:
                leaf.remove()
        self.own.add_leaf(ref, data=ref, after=0)

    def select_model(self, name: str) -> None:
        """Move the cursor to `name` (which chooses it)."""
        for node in self.root.children:
            for leaf in node.children:
                if leaf.data == name:
                    self.move_cursor(leaf)
                    return

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        if event.node.data and event.node.data.startswith(LAB):
            self.post_message(self.LabHighlighted(event.node.data.removeprefix(LAB)))
        elif event.node.data and event.node.data != OPEN:
            self.post_message(self.ModelChosen(event.node.data))

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if event.node.data and event.node.data.startswith(LAB):
            self.post_message(self.LabChosen(event.node.data.removeprefix(LAB)))
        elif event.node.data == OPEN:
            self.post_message(self.OpenRequested())
