// Renders every template in manifest.tsv with @huggingface/jinja, the
// reference these expected outputs are checked against (see README.md).
// Not run by make or CI: run by hand after adding a template.
//   cd DIR_WITH_NODE_MODULES && node /path/to/gen.mjs /path/to/agent/tests/data/tmpl
import fs from "fs";
import { createRequire } from "module";

const { Template } = createRequire(process.cwd() + "/")("@huggingface/jinja");
const dir = process.argv[2];

// The conversations; the C test (test_tmpl.c) holds the same messages.
const sys = { role: "system", content: "You are a terse assistant." };
const convs = {
  sys: [sys, { role: "user", content: "Hello there" }, { role: "assistant", content: "Hi! How can I help?" },
        { role: "user", content: "  What is 2+2?\n" }],
  nosys: [{ role: "user", content: "Hello there" }, { role: "assistant", content: "Hi! How can I help?" },
          { role: "user", content: "  What is 2+2?\n" }],
  think: [{ role: "user", content: "Hi" }, { role: "assistant", content: "<think>\nThe user greets.\n</think>\n\nHello!" },
          { role: "user", content: "Tell me a joke." }],
};

for (const line of fs.readFileSync(`${dir}/manifest.tsv`, "utf8").split("\n")) {
  if (!line || line.startsWith("#")) continue;
  const [file, , bos, eos, names] = line.split("\t");
  const tmpl = new Template(fs.readFileSync(`${dir}/${file}`, "utf8"));
  for (const name of names.split(",")) {
    const out = tmpl.render({
      messages: convs[name],
      bos_token: bos === "-" ? "" : bos,
      eos_token: eos,
      add_generation_prompt: true,
      // Llama 3.1+ take the date from here when set; 3.2 would otherwise ask strftime_now
      // for today, which no fixed expected output can hold.
      date_string: "26 Jul 2024",
    });
    fs.writeFileSync(`${dir}/${file.replace(/\.jinja$/, "")}.${name}.txt`, out);
  }
}
