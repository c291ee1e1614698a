//! Turning text into vectors through an embeddings endpoint the manifest grants.
//!
//! Three request shapes cover the services people run: OpenAI's `/v1/embeddings` (and the many
//! servers that copy it), Azure OpenAI's deployment form (`/openai/deployments/NAME/embeddings`,
//! no model in the body) and Ollama's `/api/embed`. The API key is never ours: pier adds it to
//! requests for the origin (`[grants].http` with `auth`), so a missing key or a refused one comes
//! back as pier's sentence naming what to set.

use pier_sdk::ToolError;
use pier_sdk::http::{HttpError, Request};
use serde::Deserialize;
use serde_json::{Value, json};

/// Which request and answer shape the endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Azure,
    Ollama,
}

impl Api {
    fn parse(text: &str) -> Result<Api, String> {
        match text {
            "openai" => Ok(Api::OpenAi),
            "azure" => Ok(Api::Azure),
            "ollama" => Ok(Api::Ollama),
            other => Err(format!(
                "[config.embeddings] api {other:?} is not one of openai, azure, ollama"
            )),
        }
    }

    /// The shape a URL's path says, for when `api` is not given.
    fn of_url(url: &str) -> Api {
        if url.contains("/api/embed") {
            Api::Ollama
        } else if url.contains("/openai/deployments/") || url.contains(".openai.azure.com") {
            Api::Azure
        } else {
            Api::OpenAi
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Azure => "azure",
            Api::Ollama => "ollama",
        }
    }
}

/// `[config.embeddings]`, or a search's own `embeddings` table.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: String,
    pub api: Api,
    /// Sent as `model` (OpenAI, Ollama); Azure names the model by its deployment in the URL.
    pub model: Option<String>,
    /// OpenAI's `dimensions` (models that can shorten their vectors).
    pub dimensions: Option<u32>,
    pub timeout_ms: u64,
    /// Texts per request when filling a table (`embed_rows`).
    pub batch: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointConfig {
    url: String,
    api: Option<String>,
    model: Option<String>,
    dimensions: Option<u32>,
    timeout_ms: Option<u64>,
    batch: Option<usize>,
}

impl Endpoint {
    /// Reads an `embeddings` table; `label` names it in messages.
    pub fn parse(value: &Value, label: &str) -> Result<Endpoint, String> {
        let c: EndpointConfig = serde_json::from_value(value.clone()).map_err(|e| {
            format!("{label}: {e} (keys: url, api, model, dimensions, timeout_ms, batch)")
        })?;
        let url =
            pier_sdk::config::checked_url(&c.url, &format!("{label}.url"), "an embeddings API")
                .map_err(|e| e.replacen("[config].", "", 1))?;
        let api = match &c.api {
            Some(a) => Api::parse(a)?,
            None => Api::of_url(&url),
        };
        if api != Api::Azure && c.model.is_none() {
            return Err(format!(
                "{label} names no model: add model = \"text-embedding-3-small\" (or the model \
                 your {} server serves)",
                api.name()
            ));
        }
        let batch = c.batch.unwrap_or(64);
        if !(1..=2048).contains(&batch) {
            return Err(format!("{label}.batch must be 1 to 2048, not {batch}"));
        }
        Ok(Endpoint {
            url,
            api,
            model: c.model,
            dimensions: c.dimensions,
            timeout_ms: c.timeout_ms.unwrap_or(15_000),
            batch,
        })
    }

    fn body(&self, texts: &[String]) -> Value {
        let mut body = json!({ "input": texts });
        if let Some(model) = &self.model {
            body["model"] = Value::from(model.clone());
        }
        if let (Some(d), Api::OpenAi | Api::Azure) = (self.dimensions, self.api) {
            body["dimensions"] = Value::from(d);
        }
        body
    }

    /// One vector per text, in order.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f64>>, ToolError> {
        let answer = Request::new("POST", &self.url)
            .header("accept", "application/json")
            .json(&self.body(texts))
            .timeout_ms(self.timeout_ms)
            .max_body(64 * 1024 * 1024)
            .send()
            .map_err(|e| self.unreachable(e))?;
        if answer.status >= 400 {
            // At most 600 characters of the service's explanation (never cut inside one).
            let text: String = answer.text().chars().take(600).collect();
            return Err(ToolError::Failed(format!(
                "the embeddings endpoint {} answered {}: {text}",
                self.url, answer.status
            )));
        }
        let body = answer.json().map_err(|e| {
            ToolError::Failed(format!(
                "the embeddings endpoint {} did not answer JSON: {e}",
                self.url
            ))
        })?;
        let vectors = self.vectors(&body)?;
        if vectors.len() != texts.len() {
            return Err(ToolError::Failed(format!(
                "the embeddings endpoint {} returned {} vectors for {} texts",
                self.url,
                vectors.len(),
                texts.len()
            )));
        }
        Ok(vectors)
    }

    fn unreachable(&self, e: HttpError) -> ToolError {
        match e {
            HttpError::Denied(m) => {
                ToolError::Denied(format!("the embeddings endpoint {}: {m}", self.url))
            }
            other => ToolError::Failed(format!(
                "could not reach the embeddings endpoint {}: {other}. Check url under \
                 [config.embeddings] in {} and that the service is running",
                self.url,
                pier_sdk::host::manifest_path()
            )),
        }
    }

    /// The vectors of an answer: `data[].embedding` ordered by `index` (OpenAI, Azure) or
    /// `embeddings[]` (Ollama).
    fn vectors(&self, body: &Value) -> Result<Vec<Vec<f64>>, ToolError> {
        let bad = |what: &str| {
            ToolError::Failed(format!(
                "the embeddings endpoint {} answered in an unexpected shape ({what}; api = {})",
                self.url,
                self.api.name()
            ))
        };
        let items: Vec<(usize, &Value)> = match self.api {
            Api::Ollama => body["embeddings"]
                .as_array()
                .ok_or_else(|| bad("no embeddings array"))?
                .iter()
                .enumerate()
                .collect(),
            Api::OpenAi | Api::Azure => {
                let data = body["data"]
                    .as_array()
                    .ok_or_else(|| bad("no data array"))?;
                let mut items = Vec::with_capacity(data.len());
                for (at, d) in data.iter().enumerate() {
                    let index = d["index"].as_u64().map_or(at, |i| i as usize);
                    items.push((index, &d["embedding"]));
                }
                items.sort_by_key(|(i, _)| *i);
                items
            }
        };
        items
            .into_iter()
            .map(|(_, v)| {
                v.as_array()
                    .ok_or_else(|| bad("an embedding is not an array of numbers"))?
                    .iter()
                    .map(|x| {
                        x.as_f64()
                            .ok_or_else(|| bad("an embedding holds a non-number"))
                    })
                    .collect()
            })
            .collect()
    }
}

/// A vector in pgvector's text form, `[0.1,0.2,…]`, to bind as `$n::vector`.
pub fn vector_literal(v: &[f64]) -> String {
    let mut out = String::with_capacity(v.len() * 10 + 2);
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{x}"));
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_follows_the_url_unless_named() {
        let e = Endpoint::parse(
            &json!({"url": "http://127.0.0.1:11434/api/embed", "model": "nomic-embed-text"}),
            "[config.embeddings]",
        )
        .expect("ollama");
        assert_eq!(e.api, Api::Ollama);
        let e = Endpoint::parse(
            &json!({"url": "https://x.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-02-01"}),
            "[config.embeddings]",
        )
        .expect("azure needs no model");
        assert_eq!(e.api, Api::Azure);
        assert!(e.body(&["a".into()]).get("model").is_none());
        let err = Endpoint::parse(
            &json!({"url": "https://api.openai.com/v1/embeddings"}),
            "[config.embeddings]",
        )
        .unwrap_err();
        assert!(err.contains("names no model"), "{err}");
        let err = Endpoint::parse(
            &json!({"url": "http://10.0.0.5/v1/embeddings", "model": "m"}),
            "[config.embeddings]",
        )
        .unwrap_err();
        assert!(err.contains("plain HTTP"), "{err}");
        let err = Endpoint::parse(
            &json!({"url": "https://a/v1", "model": "m", "key": "sk-1"}),
            "[config.embeddings]",
        )
        .unwrap_err();
        assert!(err.contains("unknown field `key`"), "{err}");
    }

    #[test]
    fn answers_of_each_shape_come_back_in_input_order() {
        let openai = Endpoint::parse(
            &json!({"url": "https://api.openai.com/v1/embeddings", "model": "m"}),
            "e",
        )
        .expect("valid");
        let body = json!({"data": [
            {"index": 1, "embedding": [0.5, 1]},
            {"index": 0, "embedding": [0.25, 2]}
        ]});
        assert_eq!(
            openai.vectors(&body).expect("vectors"),
            vec![vec![0.25, 2.0], vec![0.5, 1.0]]
        );
        let ollama = Endpoint::parse(
            &json!({"url": "http://localhost:11434/api/embed", "model": "m"}),
            "e",
        )
        .expect("valid");
        assert_eq!(
            ollama
                .vectors(&json!({"embeddings": [[1, 2], [3, 4]]}))
                .expect("vectors"),
            vec![vec![1.0, 2.0], vec![3.0, 4.0]]
        );
        assert!(ollama.vectors(&json!({"data": []})).is_err());
        assert_eq!(vector_literal(&[0.5, -1.0, 2e-3]), "[0.5,-1,0.002]");
    }
}
