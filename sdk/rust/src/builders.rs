//! Constructors that make a tool definition or a result one expression.

use serde_json::Value;

use crate::{Annotations, CallResult, Content, Error, Media, ResourceContents};

impl Annotations {
    /// MCP's defaults: may write, may destroy, not idempotent, open world.
    pub const DEFAULT: Annotations = Annotations {
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    };
}

impl crate::Tool {
    /// A tool taking no arguments, with MCP's default annotations. Chain the other methods.
    pub fn new(name: &str, description: &str) -> Self {
        crate::Tool {
            name: name.to_string(),
            title: None,
            description: description.to_string(),
            input_schema: r#"{"type":"object","properties":{}}"#.to_string(),
            output_schema: None,
            annotations: Annotations::DEFAULT,
        }
    }

    /// A titled tool that only reads (open world: it reads a service). The shape every
    /// read of a remote service's plugin starts from.
    pub fn reads(name: &str, title: &str, description: &str) -> Self {
        Self::new(name, description).title(title).read_only()
    }

    /// A titled tool that writes; `destructive` when it can overwrite or remove what exists.
    pub fn writes(name: &str, title: &str, description: &str, destructive: bool) -> Self {
        Self::new(name, description)
            .title(title)
            .destructive(destructive)
    }

    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.to_string());
        self
    }

    /// JSON Schema of the arguments (an object schema).
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.input_schema = schema.to_string();
        self
    }

    /// JSON Schema of the structured result.
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema.to_string());
        self
    }

    /// Reads only: not destructive, idempotent.
    pub fn read_only(mut self) -> Self {
        self.annotations.read_only = true;
        self.annotations.destructive = false;
        self.annotations.idempotent = true;
        self
    }

    /// Sets the destructive hint (for tools that write).
    pub fn destructive(mut self, destructive: bool) -> Self {
        self.annotations.read_only = false;
        self.annotations.destructive = destructive;
        self
    }

    /// Sets the idempotent hint.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.annotations.idempotent = idempotent;
        self
    }

    /// Sets the open-world hint (false for tools confined to local, granted data).
    pub fn open_world(mut self, open_world: bool) -> Self {
        self.annotations.open_world = open_world;
        self
    }
}

impl CallResult {
    /// A successful result with one text block.
    pub fn text(text: impl Into<String>) -> Self {
        CallResult {
            content: vec![Content::Text(text.into())],
            structured: None,
            is_error: false,
        }
    }

    /// A successful result with a text block for the model and a structured JSON value that
    /// matches the tool's output schema.
    pub fn structured(text: impl Into<String>, value: &Value) -> Self {
        CallResult {
            content: vec![Content::Text(text.into())],
            structured: Some(value.to_string()),
            is_error: false,
        }
    }

    /// A structured answer whose text block is the same JSON, fenced with `fence` when it
    /// carries words other people wrote (`structuredContent` is never fenced: it is for
    /// programs).
    pub fn json(value: &Value, fence: Option<&crate::untrusted::Fence>) -> Self {
        let json = value.to_string();
        let text = match fence {
            Some(f) => f.wrap(&json),
            None => json.clone(),
        };
        CallResult {
            content: vec![Content::Text(text)],
            structured: Some(json),
            is_error: false,
        }
    }

    /// A failure the model should read and may correct.
    pub fn error(message: impl Into<String>) -> Self {
        CallResult {
            content: vec![Content::Text(message.into())],
            structured: None,
            is_error: true,
        }
    }

    /// Adds a content block.
    pub fn with(mut self, content: Content) -> Self {
        self.content.push(content);
        self
    }
}

impl Content {
    pub fn image(data: Vec<u8>, mime_type: &str) -> Self {
        Content::Image(Media {
            data,
            mime_type: mime_type.to_string(),
        })
    }

    pub fn audio(data: Vec<u8>, mime_type: &str) -> Self {
        Content::Audio(Media {
            data,
            mime_type: mime_type.to_string(),
        })
    }

    pub fn blob(uri: &str, data: Vec<u8>, mime_type: &str) -> Self {
        Content::Embedded(ResourceContents {
            uri: uri.to_string(),
            mime_type: Some(mime_type.to_string()),
            body: crate::ResourceBody::Blob(data),
        })
    }
}

impl Error {
    /// The error for a tool name the plugin does not know.
    pub fn unknown_tool(name: &str) -> Self {
        Error::NotFound(format!("unknown tool `{name}`"))
    }
}
