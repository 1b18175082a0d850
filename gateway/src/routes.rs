//! The route table: every `google.api.http` binding in a descriptor pool, resolved against the
//! method's request and response messages and checked for conflicts.

use http::Method;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MethodDescriptor, Value,
};
use tonic::codegen::http::uri::PathAndQuery;

use crate::{
    Error,
    router::Router,
    template::{self, Template},
};

/// Where the HTTP body goes in the request message.
#[derive(Debug, Clone)]
pub enum BodyRule {
    /// No body: every field not bound by the path comes from the query string.
    None,
    /// `body: "*"`: the body is the whole request, minus the path-bound fields.
    Whole,
    /// `body: "field"`: the body is that top-level field.
    Field(FieldDescriptor),
}

/// One HTTP binding of one gRPC method.
#[derive(Debug, Clone)]
pub struct Route {
    /// The gRPC method.
    pub method: MethodDescriptor,
    /// The HTTP method.
    pub http_method: Method,
    /// The parsed path template.
    pub template: Template,
    /// The template as written in the rule.
    pub template_text: String,
    /// For each template variable, the field path it fills.
    pub path_fields: Vec<Vec<FieldDescriptor>>,
    /// Where the body goes.
    pub body: BodyRule,
    /// The response field sent as the body, or the whole response when `None`.
    pub response_body: Option<FieldDescriptor>,
    /// `/package.Service/Method`.
    pub grpc_path: PathAndQuery,
    /// The label put into the extensions of every response this route produces.
    pub label: MatchedRoute,
    /// Whether the request's JSON goes straight to the wire ([`crate::wirejson`]): a unary
    /// reply, the body is the whole message, the path binds nothing, and the message is plain.
    pub direct_request: bool,
    /// Whether a unary reply goes straight from the wire to JSON: the reply is the whole
    /// body and its message is plain.
    pub direct_response: bool,
}

/// Which route served a response, in the response's extensions, so layers outside the gateway
/// (metrics, access logs) can label by route template rather than by raw path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute {
    /// `VERB /template` as written in the rule, such as `GET /v1/orders/{order_id}`.
    pub template: std::sync::Arc<str>,
    /// The path template alone, such as `/v1/orders/{order_id}` (the metrics' `route`).
    pub route: std::sync::Arc<str>,
    /// The gRPC method's full name.
    pub grpc_method: std::sync::Arc<str>,
}

impl Route {
    /// Whether the method streams its responses.
    pub fn server_streaming(&self) -> bool {
        self.method.is_server_streaming()
    }
}

/// All routes and their matcher.
#[derive(Debug)]
pub struct RouteTable {
    /// The routes; [`Router`] indexes into this.
    pub routes: Vec<Route>,
    /// The matcher.
    pub router: Router,
}

impl RouteTable {
    /// Builds the table from every service in `pool`. Methods without a rule are not exposed;
    /// client-streaming methods are skipped with a warning (HTTP/JSON has no shape for them).
    pub fn build(pool: &DescriptorPool) -> Result<Self, Error> {
        let mut table = RouteTable {
            routes: Vec::new(),
            router: Router::default(),
        };
        let Some(http_ext) = pool.get_extension_by_name("google.api.http") else {
            return Ok(table);
        };
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http_ext) {
                    continue;
                }
                if method.is_client_streaming() {
                    tracing::warn!(
                        method = method.full_name(),
                        "client streaming: not exposed over REST"
                    );
                    continue;
                }
                let rule = options.get_extension(&http_ext);
                let Some(rule) = rule.as_message() else {
                    continue;
                };
                table.add_rule(&method, rule, true)?;
            }
        }
        Ok(table)
    }

    fn add_rule(
        &mut self,
        method: &MethodDescriptor,
        rule: &DynamicMessage,
        top: bool,
    ) -> Result<(), Error> {
        let bad = |reason: String| Error::Rule {
            method: method.full_name().to_owned(),
            reason,
        };
        let text_field = |name: &str| {
            rule.get_field_by_name(name)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let mut pattern = None;
        for (name, verb) in [
            ("get", Method::GET),
            ("put", Method::PUT),
            ("post", Method::POST),
            ("delete", Method::DELETE),
            ("patch", Method::PATCH),
        ] {
            if rule.has_field_by_name(name) {
                pattern = Some((verb, text_field(name)));
            }
        }
        if rule.has_field_by_name("custom")
            && let Some(custom) = rule
                .get_field_by_name("custom")
                .as_deref()
                .and_then(Value::as_message)
        {
            let kind = custom
                .get_field_by_name("kind")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let path = custom
                .get_field_by_name("path")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let verb = Method::from_bytes(kind.as_bytes())
                .map_err(|_| bad(format!("bad custom verb {kind:?}")))?;
            pattern = Some((verb, path));
        }
        if let Some((http_method, text)) = pattern {
            let route = self.resolve(
                method,
                http_method,
                &text,
                &text_field("body"),
                &text_field("response_body"),
            )?;
            let index = self.routes.len();
            if let Err(existing) =
                self.router
                    .insert(route.http_method.clone(), route.template.clone(), index)
            {
                let other = &self.routes[existing];
                return Err(Error::Conflict {
                    first: other.method.full_name().to_owned(),
                    second: method.full_name().to_owned(),
                    binding: format!("{} {}", route.http_method, route.template_text),
                });
            }
            self.routes.push(route);
        }
        if let Some(list) = rule
            .get_field_by_name("additional_bindings")
            .as_deref()
            .and_then(Value::as_list)
        {
            if !top && !list.is_empty() {
                return Err(bad("additional_bindings may not nest".into()));
            }
            for extra in list.iter().filter_map(Value::as_message) {
                self.add_rule(method, extra, false)?;
            }
        }
        Ok(())
    }

    fn resolve(
        &self,
        method: &MethodDescriptor,
        http_method: Method,
        text: &str,
        body: &str,
        response_body: &str,
    ) -> Result<Route, Error> {
        let bad = |reason: String| Error::Rule {
            method: method.full_name().to_owned(),
            reason,
        };
        let template = template::parse(text).map_err(|e| bad(format!("{text:?}: {e}")))?;
        let input = method.input();
        let mut path_fields = Vec::new();
        for var in &template.variables {
            let fields = resolve_path(&input, &var.field_path).map_err(&bad)?;
            let leaf = fields
                .last()
                .ok_or_else(|| bad("empty field path".into()))?;
            if leaf.is_list() || leaf.is_map() {
                return Err(bad(format!(
                    "path variable {} is repeated",
                    leaf.full_name()
                )));
            }
            path_fields.push(fields);
        }
        let body = match body {
            "" => BodyRule::None,
            "*" => BodyRule::Whole,
            name => BodyRule::Field(
                input
                    .get_field_by_name(name)
                    .ok_or_else(|| bad(format!("no body field {name:?}")))?,
            ),
        };
        let response_body = match response_body {
            "" => None,
            name => Some(
                method
                    .output()
                    .get_field_by_name(name)
                    .ok_or_else(|| bad(format!("no response field {name:?}")))?,
            ),
        };
        let grpc_path = PathAndQuery::from_maybe_shared(format!(
            "/{}/{}",
            method.parent_service().full_name(),
            method.name()
        ))
        .map_err(|e| bad(e.to_string()))?;
        let label = MatchedRoute {
            template: format!("{http_method} {text}").into(),
            route: text.into(),
            grpc_method: method.full_name().into(),
        };
        let direct_request = !method.is_server_streaming()
            && matches!(body, BodyRule::Whole)
            && path_fields.is_empty()
            && crate::wirejson::is_plain(&input);
        let direct_response =
            response_body.is_none() && crate::wirejson::is_plain_reply(&method.output());
        Ok(Route {
            direct_request,
            direct_response,
            method: method.clone(),
            http_method,
            template,
            template_text: text.to_owned(),
            path_fields,
            body,
            response_body,
            grpc_path,
            label,
        })
    }
}

/// Resolves `a.b.c` through singular message fields of `root`.
pub fn resolve_path(
    root: &prost_reflect::MessageDescriptor,
    path: &[String],
) -> Result<Vec<FieldDescriptor>, String> {
    let mut msg = root.clone();
    let mut out = Vec::with_capacity(path.len());
    for (i, name) in path.iter().enumerate() {
        let field = msg
            .get_field_by_name(name)
            .or_else(|| msg.get_field_by_json_name(name))
            .ok_or_else(|| format!("{} has no field {name:?}", msg.full_name()))?;
        if i + 1 < path.len() {
            match field.kind() {
                Kind::Message(next) if !field.is_list() && !field.is_map() => msg = next,
                _ => return Err(format!("{} is not a singular message", field.full_name())),
            }
        }
        out.push(field);
    }
    Ok(out)
}
