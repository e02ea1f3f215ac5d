import { assertEquals, assertThrows } from "@std/assert";
import { code, escapeMarkdown, joinMarkdown, Markdown, math, md } from "../../lib/report/markdown.ts";

Deno.test("escapeMarkdown: emphasis, code, tables, math and HTML are shown literally", () => {
  assertEquals(escapeMarkdown("D_det and D_rand"), "D\\_det and D\\_rand");
  assertEquals(
    escapeMarkdown("*a* `b` [c](d) #e |f| ~g~ $h$ \\i"),
    "\\*a\\* \\`b\\` \\[c\\](d) \\#e \\|f\\| \\~g\\~ \\$h\\$ \\\\i",
  );
  assertEquals(escapeMarkdown("<b>&</b>"), "&lt;b&gt;&amp;&lt;/b&gt;");
  assertEquals(escapeMarkdown("97.5% at ε = 0.3, l-inf"), "97.5% at ε = 0.3, l-inf");
});

Deno.test("md: literal text stays Markdown, values are escaped, Markdown values nest as they are", () => {
  const name = "D̂_det";
  const inner = md`**${name}**`;
  const text = md`The model on ${name} reaches ${97.5}% (${inner}); ${math("\\hat D_{det}")} in ${
    code("x_1")
  }`;
  assertEquals(
    text.markdown,
    "The model on D̂\\_det reaches 97.5% (**D̂\\_det**); $\\hat D_{\\text{det}}$ in `x_1`",
  );
  assertEquals(String(text), text.markdown);
  const display = (text as unknown as Record<symbol, () => unknown>)[Symbol.for("Jupyter.display")];
  assertEquals(display.call(text), { "text/markdown": text.markdown });
  assertEquals(md`no values`.markdown, "no values");
});

Deno.test("md: arrays, undefined and null are refused", () => {
  assertThrows(() => md`${["a", "b"]}`, TypeError, "joinMarkdown");
  assertThrows(() => md`x ${undefined}`, TypeError, "value 1");
  assertThrows(() => md`x ${"ok"} ${null}`, TypeError, "value 2");
});

Deno.test("joinMarkdown: escapes plain items, keeps Markdown items and the separator", () => {
  assertEquals(joinMarkdown(["a_b", md`**c**`, 3], "; ").markdown, "a\\_b; **c**; 3");
  assertEquals(joinMarkdown([]).markdown, "");
  assertEquals(md`list: ${joinMarkdown(["x_1", "x_2"], " and ")}.`.markdown, "list: x\\_1 and x\\_2.");
  assertThrows(() => joinMarkdown("ab" as unknown as string[]), TypeError, "values must be an array");
});

Deno.test("math: adds the delimiters and sets word subscripts upright", () => {
  assertEquals(math("D_{det}").markdown, "$D_{\\text{det}}$");
  assertEquals(math("\\hat D_{NR}").markdown, "$\\hat D_{\\text{NR}}$");
  assertEquals(math("x_{i}^{2} + y_1").markdown, "$x_{i}^{2} + y_1$");
  assertEquals(math("(y + 1) \\bmod 10").markdown, "$(y + 1) \\bmod 10$");
  assertThrows(() => math(""), TypeError, "non-empty");
  assertThrows(() => math("$x$"), RangeError, "must not contain '$'");
});

Deno.test("code: a fence longer than any backtick run in the text", () => {
  assertEquals(code(".cache/results/a_b.json").markdown, "`.cache/results/a_b.json`");
  assertEquals(code("a`b").markdown, "``a`b``");
  assertEquals(code("`x`").markdown, "`` `x` ``");
  assertThrows(() => code(""), RangeError);
  assertThrows(() => code(3 as unknown as string), TypeError, "code: text must be a string");
});

Deno.test("Markdown: refuses a non-string", () => {
  assertThrows(() => new Markdown(1 as unknown as string), TypeError);
});
