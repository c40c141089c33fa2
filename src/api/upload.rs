//! Multipart uploads, streamed: [`Form`] is the request payload of the
//! upload operations (its schema names the fields; its body is read field
//! by field as it arrives), and [`Form::read`] feeds the file field into
//! the core's spool chunk by chunk, so the tenant's limits cut an oversize
//! upload off (413) while it streams, whatever `Content-Length` said. Text
//! fields are read up to [`MAX_FIELD`] bytes each.

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    payload::{ParsePayload, Payload},
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
};
use tokio::io::AsyncReadExt;

use crate::{
    domain::{Actor, file::Spool},
    error::{AppError, AppResult},
    state::AppState,
};

/// Most bytes of one text field.
pub const MAX_FIELD: u64 = 64 * 1024;

/// A field of an upload form, for the spec.
#[derive(Clone, Copy)]
pub struct FieldDoc {
    pub name: &'static str,
    /// `binary` for the file, else the JSON type (`string`, `integer`).
    pub ty: &'static str,
    pub required: bool,
    pub description: &'static str,
}

/// The fields of one upload operation, for the spec.
pub trait FormDoc: Send {
    const FIELDS: &'static [FieldDoc];
}

/// A streamed `multipart/form-data` body described by `D`. A body that is
/// not a form is refused (415) only when it is read, so the handler
/// authorizes first, as every handler does.
pub struct Form<D: FormDoc> {
    multipart: AppResult<poem::web::Multipart>,
    _doc: std::marker::PhantomData<D>,
}

impl<D: FormDoc> Payload for Form<D> {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(Self::CONTENT_TYPE))
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new("object");
        for field in D::FIELDS {
            let mut property = match field.ty {
                "binary" => MetaSchema::new_with_format("string", "binary"),
                ty => MetaSchema::new(ty),
            };
            property.description = Some(field.description);
            schema
                .properties
                .push((field.name, MetaSchemaRef::Inline(Box::new(property))));
            if field.required {
                schema.required.push(field.name);
            }
        }
        MetaSchemaRef::Inline(Box::new(schema))
    }
}

impl<D: FormDoc> ParsePayload for Form<D> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let multipart = <poem::web::Multipart as FromRequest>::from_request(request, body)
            .await
            .map_err(|_| not_a_form());
        Ok(Self {
            multipart,
            _doc: std::marker::PhantomData,
        })
    }
}

impl<'a, D: FormDoc> ApiExtractor<'a> for Form<D> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: Self::CONTENT_TYPE,
                schema: Self::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _options: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if Self::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            _ => Ok(Self {
                multipart: Err(not_a_form()),
                _doc: std::marker::PhantomData,
            }),
        }
    }
}

/// What an upload form carried: the spooled file (if any), its name as
/// the client gave it, and the text fields.
pub struct Received {
    pub file: Option<(Spool, Option<String>)>,
    pub fields: Vec<(String, String)>,
}

impl Received {
    /// A text field's value, blank as absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A text field parsed as `T`: 422 naming the field when it does not.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str) -> AppResult<Option<T>> {
        self.text(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| AppError::validation(format!("{name} is not valid")))
            })
            .transpose()
    }
}

fn not_a_form() -> AppError {
    AppError::UnsupportedMedia {
        code: "unsupported_media_type",
        message: "send the file as multipart/form-data".into(),
    }
}

fn malformed(err: impl std::fmt::Display) -> AppError {
    AppError::bad_request(format!("malformed multipart body: {err}"))
}

impl<D: FormDoc> Form<D> {
    /// Reads the form: the field named `file_field` streams into a spool
    /// of the actor's (limits enforced as it arrives), the rest are text.
    pub async fn read(
        self,
        state: &AppState,
        actor: &Actor,
        file_field: &str,
    ) -> AppResult<Received> {
        let mut multipart = self.multipart?;
        let mut received = Received {
            file: None,
            fields: Vec::new(),
        };
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == file_field {
                if received.file.is_some() {
                    return Err(AppError::validation(format!("send one `{file_field}`")));
                }
                let file_name = field.file_name().map(str::to_owned);
                // A conversation named before the file: refused before a
                // byte is stored if the caller is not in it.
                if let Some(id) = received.parsed::<uuid::Uuid>("conversationId")? {
                    state
                        .core
                        .membership(actor, crate::domain::ConversationId(id))
                        .await?;
                }
                let mut spool = state.core.start_upload(actor).await?;
                let mut reader = field.into_async_read();
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = reader.read(&mut buf).await.map_err(malformed)?;
                    if n == 0 {
                        break;
                    }
                    spool.push(&buf[..n]).await?;
                }
                received.file = Some((spool, file_name));
            } else {
                let mut value = Vec::new();
                field
                    .into_async_read()
                    .take(MAX_FIELD + 1)
                    .read_to_end(&mut value)
                    .await
                    .map_err(malformed)?;
                if value.len() as u64 > MAX_FIELD {
                    return Err(AppError::TooLarge {
                        code: "field_too_large",
                        message: format!("`{name}` is at most {MAX_FIELD} bytes"),
                    });
                }
                let value = String::from_utf8(value)
                    .map_err(|_| AppError::validation(format!("`{name}` is not UTF-8 text")))?;
                if received.fields.len() >= 32 {
                    return Err(AppError::validation("too many form fields"));
                }
                received.fields.push((name, value));
            }
        }
        Ok(received)
    }
}

/// The paths whose bodies are uploads: the body limit leaves them to the
/// streaming limits above.
pub fn is_upload_path(path: &str) -> bool {
    matches!(
        path,
        "/api/files/upload" | "/api/messages/upload" | "/api/messages/voice"
    )
}
