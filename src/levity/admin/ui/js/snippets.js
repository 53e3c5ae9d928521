// Copy-paste client set-ups, filled with this gateway's URL and (once shown) its key.
export function snippets(base, key, model) {
  const k = key || "YOUR_LEVITY_KEY";
  const m = model || "gpt-4o-mini";
  return [
    ["curl", `curl ${base}/v1/chat/completions \\
  -H "Authorization: Bearer ${k}" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "${m}", "messages": [{"role": "user", "content": "Hello"}]}'`],
    ["OpenAI SDK", `from openai import OpenAI

client = OpenAI(base_url="${base}/v1", api_key="${k}")
reply = client.chat.completions.create(
    model="${m}", messages=[{"role": "user", "content": "Hello"}]
)
print(reply.choices[0].message.content)`],
    ["Anthropic SDK", `from anthropic import Anthropic

client = Anthropic(base_url="${base}", api_key="${k}")
reply = client.messages.create(
    model="${model || "claude-sonnet-4-5"}", max_tokens=512,
    messages=[{"role": "user", "content": "Hello"}],
)
print(reply.content[0].text)`],
    ["Gemini SDK", `from google import genai
from google.genai.types import HttpOptions

client = genai.Client(api_key="${k}",
                      http_options=HttpOptions(base_url="${base}", api_version="v1beta"))
reply = client.models.generate_content(model="${model || "gemini-2.5-flash"}", contents="Hello")
print(reply.text)`],
    ["Claude Code", `export ANTHROPIC_BASE_URL=${base}
export ANTHROPIC_AUTH_TOKEN=${k}
claude`],
    ["Codex CLI", `# ~/.codex/config.toml
model_provider = "levity"
model = "${m}"

[model_providers.levity]
name = "Levity"
base_url = "${base}/v1"
env_key = "LEVITY_API_KEY"
wire_api = "responses"

# then, in the shell:
export LEVITY_API_KEY=${k}
codex`],
    ["Gemini CLI", `export GOOGLE_GEMINI_BASE_URL=${base}
export GEMINI_API_KEY=${k}
# ~/.gemini/settings.json: {"security": {"auth": {"selectedType": "gemini-api-key"}}}
gemini -m ${model || "gemini-2.5-flash"}`],
  ];
}
