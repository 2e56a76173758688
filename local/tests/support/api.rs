//! Talking to a running server over real HTTP: [`Api`], a client for one server, and the
//! [`Answer`]s it gets.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::{PASSWORD, Server};

/// A JSON answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    async fn of(response: Response) -> Self {
        Self::try_of(response).await.expect("reading the body")
    }

    /// Like [`Self::of`], but a body cut short is an error.
    async fn try_of(response: Response) -> Result<Self, reqwest::Error> {
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            assert!(
                content_type.starts_with("application/json"),
                "{status} answered with {content_type:?}: {text}"
            );
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        Ok(Self { status, body })
    }

    /// The body's string field `name`.
    #[track_caller]
    pub fn str(&self, name: &str) -> String {
        match &self.body[name] {
            Value::String(value) => value.clone(),
            other => panic!("no string {name:?} in {}: {other}", self.body),
        }
    }

    /// Panics with the body unless the status is `expected`.
    #[track_caller]
    pub fn expect(self, expected: StatusCode) -> Self {
        assert_eq!(self.status, expected, "body: {}", self.body);
        self
    }
}

/// An HTTP client for one server (no proxy: the server is on loopback).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(server: &Server) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Self {
            http,
            base: server.base.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// `POST path` with a JSON body, with a bearer token if given.
    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Answer {
        let answer = self.try_post(path, body, token).await;
        answer.expect("sending a request")
    }

    /// Like [`Self::post`], but a request that gets no answer (the server is gone) is an error.
    pub async fn try_post(
        &self,
        path: &str,
        body: Value,
        token: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::try_of(request.send().await?).await
    }

    /// `GET path` (or an absolute URL) with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        let request = self.http.get(url).bearer_auth(token);
        Answer::of(request.send().await.expect("sending a request")).await
    }

    /// `PATCH path` with a JSON body and a bearer token.
    pub async fn patch(&self, path: &str, body: Value, token: &str) -> Answer {
        let request = self
            .http
            .patch(self.url(path))
            .json(&body)
            .bearer_auth(token);
        Answer::of(request.send().await.expect("sending a request")).await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        let request = self.http.delete(self.url(path)).bearer_auth(token);
        Answer::of(request.send().await.expect("sending a request")).await
    }

    /// Registers `username` with `email` and a fixed password.
    pub async fn register(&self, username: &str, email: &str) -> Answer {
        let body = json!({
            "first_name": "Ada",
            "last_name": "Lovelace",
            "username": username,
            "email": email,
            "password": PASSWORD,
        });
        self.post("auth/register/", body, None).await
    }

    /// Presents `refresh` to `auth/token/refresh/` for a new pair.
    pub async fn refresh(&self, refresh: &str) -> Answer {
        self.post("auth/token/refresh/", json!({ "refresh": refresh }), None)
            .await
    }

    /// Logs in with a username or email and the fixed password.
    pub async fn login(&self, username_or_email: &str) -> Answer {
        let body = json!({ "username": username_or_email, "password": PASSWORD });
        self.post("auth/login/", body, None).await
    }
}
