//! `/api/files`: uploads (seed 003), the file object, its bytes and
//! thumbnails behind signed links, and deleting an unsent upload.

use futures_util::StreamExt;
use poem::{Body, IntoResponse, Response, http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    registry::{
        MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
    },
};

use super::{
    Done, Reply, Tag, done, ok,
    upload::{FieldDoc, Form, FormDoc},
};
use crate::{
    auth::BearerAuth,
    domain::{
        Actor, ConversationId, FileId,
        file::{Attachment, ByteRange, Content, SignedLink, UploadMeta, Variant},
    },
    error::{AppError, AppResult},
    state::AppState,
    wire::file::FileView,
};

#[derive(Default)]
pub struct FilesApi;

/// `POST /api/files/upload`.
pub struct UploadForm;

impl FormDoc for UploadForm {
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc {
            name: "file",
            ty: "binary",
            required: true,
            description: "The file. Its type is read from its bytes, never from its name.",
        },
        FieldDoc {
            name: "conversationId",
            ty: "string",
            required: false,
            description: "The conversation it is meant for: membership is checked now. Send it before `file`.",
        },
    ];
}

/// Stores an upload as the caller: the file object. Shared by the upload
/// operations of messages.
pub async fn store(
    state: &AppState,
    actor: &Actor,
    received: super::upload::Received,
    mut meta: UploadMeta,
) -> AppResult<Attachment> {
    let Some((spool, name)) = received.file else {
        return Err(AppError::validation("send the file in the `file` field"));
    };
    meta.name = name;
    state.core.store_upload(actor, spool, meta).await
}

#[OpenApi(prefix_path = "/api/files", tag = "Tag::Files")]
impl FilesApi {
    /// Upload a file (photo, voice note, video, document) to send later
    #[oai(path = "/upload", method = "post")]
    async fn upload(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        form: Form<UploadForm>,
    ) -> Reply<FileView> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        let received = form.read(state, &auth.0, "file").await?;
        let meta = UploadMeta {
            conversation: received
                .parsed::<uuid::Uuid>("conversationId")?
                .map(ConversationId),
            ..UploadMeta::default()
        };
        let file = store(state, &auth.0, received, meta).await?;
        ok(FileView::from(&file))
    }

    /// A file: its uploader, the conversation's members and the tenant's admins
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<FileView> {
        state
            .auth
            .authorize(&auth.0, "conversations", "read")
            .await?;
        let file = state.core.file(&auth.0, FileId(id.0)).await?;
        ok(FileView::from(&file))
    }

    /// Delete a file: its uploader before it is sent, admins always
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        Data(state): Data<&AppState>,
        auth: BearerAuth,
        id: Path<uuid::Uuid>,
    ) -> Reply<Done> {
        state
            .auth
            .authorize(&auth.0, "conversations", "write")
            .await?;
        state.core.delete_file(&auth.0, FileId(id.0)).await?;
        done()
    }

    /// The file's bytes, through the signed link in its `url` (no Authorization header)
    #[oai(path = "/:id/content", method = "get")]
    async fn content(
        &self,
        Data(state): Data<&AppState>,
        id: Path<uuid::Uuid>,
        /// The link's tenant.
        t: Query<String>,
        /// The link's expiry (Unix seconds).
        e: Query<i64>,
        /// The link's signature.
        s: Query<String>,
        #[oai(name = "Range")] range: Header<Option<String>>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> AppResult<FileResponse> {
        // Public: the signed link is the authorization (checked by the core).
        serve(
            state,
            id.0,
            Variant::Original,
            &t,
            e.0,
            &s,
            range.0,
            if_none_match.0,
        )
        .await
    }

    /// A thumbnail of an image (`small` about 96 px, `medium` about 480 px), through its signed link
    #[oai(path = "/:id/thumbnail", method = "get")]
    async fn thumbnail(
        &self,
        Data(state): Data<&AppState>,
        id: Path<uuid::Uuid>,
        /// `small` or `medium`.
        size: Query<String>,
        t: Query<String>,
        e: Query<i64>,
        s: Query<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> AppResult<FileResponse> {
        // Public: the signed link is the authorization (checked by the core).
        let variant = Variant::thumbnail(&size.0)
            .ok_or_else(|| AppError::validation("size must be small or medium"))?;
        serve(state, id.0, variant, &t, e.0, &s, None, if_none_match.0).await
    }
}
async fn serve(
    state: &AppState,
    id: uuid::Uuid,
    variant: Variant,
    tenant: &str,
    expires: i64,
    signature: &str,
    range: Option<String>,
    if_none_match: Option<String>,
) -> AppResult<FileResponse> {
    let link = SignedLink {
        id: FileId(id),
        variant,
        tenant,
        expires,
        signature,
    };
    let range = range.as_deref().and_then(ByteRange::parse);
    let content = state.core.file_content(link, range).await?;
    let etag = content.file.etag(content.variant);
    if if_none_match
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(FileResponse::NotModified { etag });
    }
    Ok(FileResponse::Bytes {
        content: Box::new(content),
        etag,
    })
}

/// The bytes of a file, or 304 when the client's copy is current.
pub enum FileResponse {
    Bytes { content: Box<Content>, etag: String },
    NotModified { etag: String },
}

/// Cached for a day by browsers (the link itself expires sooner); never by
/// shared caches, since the link is the authorization.
const CACHE: &str = "private, max-age=86400, immutable";

impl IntoResponse for FileResponse {
    fn into_response(self) -> Response {
        let (content, etag) = match self {
            Self::NotModified { etag } => {
                return Response::builder()
                    .status(StatusCode::NOT_MODIFIED)
                    .header("ETag", etag)
                    .header("Cache-Control", CACHE)
                    .finish();
            }
            Self::Bytes { content, etag } => (content, etag),
        };
        let Content {
            file,
            variant,
            fetched,
        } = *content;
        let file = &file;
        let whole = fetched.range.start == 0 && fetched.range.end == fetched.size;
        let thumbnail = variant != Variant::Original;
        let mime = if thumbnail {
            "image/jpeg"
        } else {
            file.mime_type.as_str()
        };
        let disposition =
            if file.active || !matches!(file.kind.as_str(), "image" | "audio" | "video") {
                "attachment"
            } else {
                "inline"
            };
        let name: String = file
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut builder = Response::builder()
            .status(if whole {
                StatusCode::OK
            } else {
                StatusCode::PARTIAL_CONTENT
            })
            .content_type(if file.active {
                "application/octet-stream"
            } else {
                mime
            })
            .header("ETag", etag)
            .header("Cache-Control", CACHE)
            .header("Accept-Ranges", "bytes")
            .header("Content-Length", fetched.range.end - fetched.range.start)
            .header(
                "Content-Disposition",
                format!(
                    "{disposition}; filename=\"{name}\"; filename*=UTF-8''{}",
                    utf8_percent(&file.name)
                ),
            );
        if file.active {
            builder = builder.header("Content-Security-Policy", "sandbox");
        }
        if !whole {
            builder = builder.header(
                "Content-Range",
                format!(
                    "bytes {}-{}/{}",
                    fetched.range.start,
                    fetched.range.end - 1,
                    fetched.size
                ),
            );
        }
        let stream = fetched
            .stream
            .map(|chunk| chunk.map_err(|err| std::io::Error::other(err.to_string())));
        builder.body(Body::from_bytes_stream(stream))
    }
}

/// RFC 5987 encoding of a file name.
fn utf8_percent(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn binary() -> Vec<MetaMediaType> {
    vec![MetaMediaType {
        content_type: "*/*",
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary"))),
    }]
}

fn header(name: &'static str, description: &'static str) -> MetaHeader {
    MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: false,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
    }
}

impl ApiResponse for FileResponse {
    fn meta() -> MetaResponses {
        let common = || {
            vec![
                header("ETag", "The content's digest."),
                header("Cache-Control", "Private, a day."),
                header("Accept-Ranges", "`bytes`."),
                header(
                    "Content-Disposition",
                    "`inline` for images, audio and video; `attachment` for the rest and anything a browser could run.",
                ),
                header(
                    "Content-Security-Policy",
                    "`sandbox`, for anything a browser could run.",
                ),
            ]
        };
        let mut partial = common();
        partial.push(header(
            "Content-Range",
            "The part sent: `bytes start-end/size`.",
        ));
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The whole file, with its sniffed type.",
                    status: Some(200),
                    status_range: None,
                    content: binary(),
                    headers: common(),
                },
                MetaResponse {
                    description: "The part the `Range` header asked for.",
                    status: Some(206),
                    status_range: None,
                    content: binary(),
                    headers: partial,
                },
                MetaResponse {
                    description: "The copy named by `If-None-Match` is current.",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: vec![header("ETag", "The content's digest.")],
                },
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}
