//! Where the app's messages land in tests: a real SMTP server in the test
//! process (the `mailin` protocol engine behind a tokio listener), and an
//! HTTP SMS gateway that records the signed webhook calls. Tests await
//! messages; nothing polls or sleeps. `app_with_outbox()` starts a test app
//! that delivers to both.

use std::{net::IpAddr, time::Duration};

use mailin::{Action, Handler, Response, SessionBuilder, response};
use poem::{
    EndpointExt, Route, handler, post,
    web::{Data, Json},
};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::{Mutex, mpsc},
};

use crate::helpers::TestApp;

/// One email as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Mail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parsable email")
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// Whether it is a text + HTML multipart/alternative message.
    pub fn is_multipart_alternative(&self) -> bool {
        use mail_parser::MimeHeaders;
        let parsed = self.parsed();
        parsed
            .content_type()
            .is_some_and(|ct| ct.ctype() == "multipart" && ct.subtype() == Some("alternative"))
    }

    /// The first 6-digit number of the text part.
    pub fn code(&self) -> String {
        six_digits(&self.text()).expect("a 6-digit code in the mail")
    }

    /// The first link of the text part that contains `path`.
    pub fn link(&self, path: &str) -> String {
        self.text()
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(path))
            .unwrap_or_else(|| panic!("no {path} link in: {}", self.text()))
            .to_owned()
    }
}

/// The first run of exactly six digits in `text`.
pub fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}

struct Collector {
    to: Vec<String>,
    data: Vec<u8>,
    tx: mpsc::UnboundedSender<Mail>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let _ = self.tx.send(Mail {
            to: std::mem::take(&mut self.to),
            raw: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

/// An SMTP server on a free port.
pub struct SmtpServer {
    pub url: String,
    inbox: Mutex<mpsc::UnboundedReceiver<Mail>>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                tokio::spawn(serve(stream, peer.ip(), tx.clone()));
            }
        });
        Self {
            url,
            inbox: Mutex::new(rx),
        }
    }

    /// The next email, waiting up to 10 s for it.
    pub async fn next(&self) -> Mail {
        tokio::time::timeout(Duration::from_secs(10), self.inbox.lock().await.recv())
            .await
            .expect("no email arrived within 10 s")
            .expect("SMTP server stopped")
    }

    /// True when no email is waiting (for asserting that nothing was sent).
    pub async fn is_empty(&self) -> bool {
        self.inbox.lock().await.try_recv().is_err()
    }
}

async fn serve(stream: tokio::net::TcpStream, peer: IpAddr, tx: mpsc::UnboundedSender<Mail>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut session = SessionBuilder::new("samvad-test").build(
        peer,
        Collector {
            to: vec![],
            data: vec![],
            tx,
        },
    );
    if write
        .write_all(&session.greeting().buffer().unwrap())
        .await
        .is_err()
    {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = session.process(&line);
        match reply.action {
            Action::NoReply => {}
            Action::Reply => {
                if write.write_all(&reply.buffer().unwrap()).await.is_err() {
                    return;
                }
            }
            Action::Close | Action::UpgradeTls => {
                let _ = write.write_all(&reply.buffer().unwrap()).await;
                return;
            }
        }
    }
}

/// One webhook call the SMS gateway received.
#[derive(Debug, Clone)]
pub struct SmsCall {
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
    pub timestamp: String,
    pub signature: String,
}

impl SmsCall {
    pub fn code(&self) -> String {
        six_digits(self.body["text"].as_str().unwrap()).expect("a 6-digit code in the SMS")
    }
}

/// An HTTP SMS gateway on a free port that records the calls it gets.
pub struct SmsGateway {
    pub url: String,
    calls: Mutex<mpsc::UnboundedReceiver<SmsCall>>,
}

#[handler]
fn receive(
    req: &poem::Request,
    body: Vec<u8>,
    Data(tx): Data<&mpsc::UnboundedSender<SmsCall>>,
) -> Json<()> {
    let header = |name: &str| req.header(name).unwrap_or_default().to_owned();
    let _ = tx.send(SmsCall {
        body: serde_json::from_slice(&body).unwrap_or_default(),
        raw: body.clone(),
        timestamp: header("x-samvad-timestamp"),
        signature: header("x-samvad-signature"),
    });
    Json(())
}

impl SmsGateway {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let app = Route::new().at("/sms", post(receive)).data(tx);
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Self {
            url,
            calls: Mutex::new(rx),
        }
    }

    /// The next SMS, waiting up to 10 s for it.
    pub async fn next(&self) -> SmsCall {
        tokio::time::timeout(Duration::from_secs(10), self.calls.lock().await.recv())
            .await
            .expect("no SMS arrived within 10 s")
            .expect("gateway stopped")
    }

    /// True when no SMS is waiting.
    pub async fn is_empty(&self) -> bool {
        self.calls.lock().await.try_recv().is_err()
    }
}

/// Both, as a test app's delivery targets.
pub struct Outbox {
    pub mail: SmtpServer,
    pub sms: SmsGateway,
}

/// The secret the test gateway shares with the app.
pub const SMS_SECRET: &str = "gateway-secret";

impl Outbox {
    pub async fn start() -> Self {
        Self {
            mail: SmtpServer::start().await,
            sms: SmsGateway::start().await,
        }
    }

    /// Points a configuration at this outbox.
    pub fn configure(&self, config: &mut samvad::config::Config) {
        config.smtp_url = Some(samvad::config::Secret::new(self.mail.url.clone()));
        config.sms_webhook = Some(samvad::config::SmsWebhook {
            url: self.sms.url.clone(),
            secret: samvad::config::Secret::new(SMS_SECRET),
        });
    }
}

/// A test app whose mail and SMS land in a fresh outbox.
pub async fn app_with_outbox() -> (TestApp, Outbox) {
    let outbox = Outbox::start().await;
    let app = TestApp::spawn_with(|c| outbox.configure(c)).await;
    (app, outbox)
}
