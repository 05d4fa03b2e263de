//! Reply texts: minijinja templates per locale, with channel overrides.
//!
//! `templates/<locale>/<name>.txt` is the text for a locale;
//! `templates/<locale>/<name>.<channel>.txt` overrides it on one channel.
//! Lookup falls back from the customer's locale to the default locale.
//! Undefined variables are errors, so a typo fails `check-config` instead of
//! reaching a customer as an empty string.

use crate::assets;
use crate::model::ChannelKind;
use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Read(String),
    #[error("templates/{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("template `{name}` has no text for the default locale `{locale}`")]
    MissingDefault { name: String, locale: String },
    #[error("no template `{name}` in locale `{locale}` or the default locale")]
    NotFound { name: String, locale: String },
    #[error("template `{template}` failed to render: {message}")]
    Render { template: String, message: String },
}

/// Values a template can use besides the config's `[vars]`.
#[derive(Debug, Clone, Default)]
pub struct ReplyContext {
    pub ticket: u64,
    pub customer_name: Option<String>,
    /// Place in the waiting queue (hand-off acknowledgment).
    pub position: u64,
    /// Expected wait in minutes (hand-off acknowledgment).
    pub wait_minutes: u64,
    pub intent: Option<String>,
    /// The choices of a clarifying question, in order.
    pub options: Vec<String>,
    /// When people are back, outside business hours.
    pub reopens_at: Option<String>,
    /// Rating page links, one per point of a survey's scale (email).
    pub links: Vec<String>,
}

pub struct Templates {
    env: Environment<'static>,
    /// Every `<locale>/<name>[.<channel>]` loaded.
    names: BTreeSet<String>,
    locales: BTreeSet<String>,
    default_locale: String,
    vars: BTreeMap<String, String>,
}

impl Templates {
    /// Loads templates from `dir`, or the built-in set.
    pub fn load(
        dir: Option<&Path>,
        default_locale: &str,
        vars: BTreeMap<String, String>,
    ) -> Result<Self, TemplateError> {
        let files = assets::template_files(dir).map_err(|e| TemplateError::Read(e.to_string()))?;
        Self::from_files(files, default_locale, vars)
    }

    pub fn from_files(
        files: Vec<(String, String)>,
        default_locale: &str,
        vars: BTreeMap<String, String>,
    ) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut names = BTreeSet::new();
        let mut locales = BTreeSet::new();
        for (file, text) in files {
            let Some(name) = file.strip_suffix(".txt") else {
                continue;
            };
            let Some((locale, _)) = name.split_once('/') else {
                return Err(TemplateError::Syntax {
                    file,
                    message: "templates belong in a locale folder, like en/handoff.txt".into(),
                });
            };
            locales.insert(locale.to_string());
            names.insert(name.to_string());
            env.add_template_owned(name.to_string(), text.trim_end().to_string())
                .map_err(|e| TemplateError::Syntax {
                    file: file.clone(),
                    message: e.to_string(),
                })?;
        }
        let templates = Self {
            env,
            names,
            locales,
            default_locale: default_locale.to_string(),
            vars,
        };
        templates.check_defaults()?;
        Ok(templates)
    }

    /// Every template base name must exist in the default locale, so a
    /// fallback is always there.
    fn check_defaults(&self) -> Result<(), TemplateError> {
        for name in &self.names {
            let Some((_, base)) = name.split_once('/') else {
                continue;
            };
            let base = base.split('.').next().unwrap_or(base);
            if !self
                .names
                .contains(&format!("{}/{base}", self.default_locale))
            {
                return Err(TemplateError::MissingDefault {
                    name: base.to_string(),
                    locale: self.default_locale.clone(),
                });
            }
        }
        Ok(())
    }

    /// How many template texts are loaded (all locales and channels).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The locales that have templates.
    pub fn locales(&self) -> &BTreeSet<String> {
        &self.locales
    }

    pub fn default_locale(&self) -> &str {
        &self.default_locale
    }

    /// Whether a template exists in the default locale.
    pub fn exists(&self, name: &str) -> bool {
        self.names
            .contains(&format!("{}/{name}", self.default_locale))
    }

    /// Renders `name` for a locale and channel, falling back to the default
    /// locale and to the channel-neutral text.
    pub fn render(
        &self,
        name: &str,
        locale: &str,
        channel: ChannelKind,
        context: &ReplyContext,
    ) -> Result<String, TemplateError> {
        let candidates = [
            format!("{locale}/{name}.{channel}"),
            format!("{locale}/{name}"),
            format!("{}/{name}.{channel}", self.default_locale),
            format!("{}/{name}", self.default_locale),
        ];
        let chosen = candidates
            .iter()
            .find(|c| self.names.contains(*c))
            .ok_or_else(|| TemplateError::NotFound {
                name: name.to_string(),
                locale: locale.to_string(),
            })?;
        self.render_exact(chosen, context)
    }

    /// Renders a one-off template source (a canned response) with the same
    /// variables and strictness as the reply templates.
    pub fn render_snippet(
        &self,
        name: &str,
        source: &str,
        context: &ReplyContext,
    ) -> Result<String, TemplateError> {
        // A greeting written for a named customer ("Hi {{ customer_name }},")
        // reads "Hi," for one who gave no name: the name goes with the space
        // before it, and is empty (false) anywhere else.
        let mut values = context.clone();
        let source = if values.customer_name.is_none() {
            values.customer_name = Some(String::new());
            static SPACED_NAME: std::sync::LazyLock<regex::Regex> =
                std::sync::LazyLock::new(|| {
                    regex::Regex::new(r"[ \t]?\{\{-?\s*customer_name\s*-?\}\}")
                        .expect("a valid pattern")
                });
            SPACED_NAME.replace_all(source, "")
        } else {
            std::borrow::Cow::Borrowed(source)
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let tmpl =
            env.template_from_named_str(name, &source)
                .map_err(|e| TemplateError::Syntax {
                    file: name.to_string(),
                    message: e.to_string(),
                })?;
        tmpl.render(self.values(&values))
            .map_err(|e| TemplateError::Render {
                template: name.to_string(),
                message: e.to_string(),
            })
    }

    /// Sample values for checking that a template renders.
    pub fn sample_context() -> ReplyContext {
        ReplyContext {
            ticket: 1042,
            customer_name: Some("Alex".into()),
            position: 3,
            wait_minutes: 15,
            intent: Some("sample".into()),
            options: vec!["Track order".into(), "Delivery period".into()],
            reopens_at: Some("Monday 7 December, 09:00 (Europe/Berlin)".into()),
            links: vec!["https://support.example.com/rate/1/2?score=1".into()],
        }
    }

    /// The variables a template sees: config `[vars]` and the reply context.
    fn values(&self, context: &ReplyContext) -> Value {
        let mut values: BTreeMap<String, Value> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        values.insert("ticket".into(), Value::from(context.ticket));
        values.insert(
            "customer_name".into(),
            Value::from(context.customer_name.clone()),
        );
        values.insert("position".into(), Value::from(context.position));
        values.insert("wait_minutes".into(), Value::from(context.wait_minutes));
        values.insert("intent".into(), Value::from(context.intent.clone()));
        values.insert("options".into(), Value::from(context.options.clone()));
        values.insert("reopens_at".into(), Value::from(context.reopens_at.clone()));
        values.insert("links".into(), Value::from(context.links.clone()));
        Value::from(values)
    }

    fn render_exact(
        &self,
        template: &str,
        context: &ReplyContext,
    ) -> Result<String, TemplateError> {
        let render_error = |e: minijinja::Error| TemplateError::Render {
            template: template.to_string(),
            message: format!("{e:#}"),
        };
        let tmpl = self.env.get_template(template).map_err(render_error)?;
        tmpl.render(self.values(context)).map_err(render_error)
    }

    /// Renders every loaded template with sample values; the first error.
    pub fn check_all(&self) -> Result<usize, TemplateError> {
        let sample = Self::sample_context();
        for name in &self.names {
            self.render_exact(name, &sample)?;
        }
        Ok(self.names.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canned_greeting_leaves_out_a_name_the_customer_never_gave() {
        let templates = Templates::load(None, "en", BTreeMap::new()).expect("built-in templates");
        let render = |text: &str, name: Option<&str>| {
            let context = ReplyContext {
                customer_name: name.map(str::to_string),
                ticket: 7,
                ..ReplyContext::default()
            };
            templates
                .render_snippet("greet", text, &context)
                .expect("render")
        };
        let greeting = "Hi {{ customer_name }}, about ticket {{ ticket }}: done.";
        assert_eq!(
            render(greeting, Some("Ana")),
            "Hi Ana, about ticket 7: done."
        );
        assert_eq!(render(greeting, None), "Hi, about ticket 7: done.");
        assert_eq!(render("{{ customer_name }}您好！", None), "您好！");
        assert_eq!(
            render(
                "Dear {% if customer_name %}{{ customer_name }}{% else %}customer{% endif %}",
                None
            ),
            "Dear customer"
        );
    }

    fn load(files: &[(&str, &str)]) -> Result<Templates, TemplateError> {
        let vars = BTreeMap::from([("company".to_string(), "Acme".to_string())]);
        Templates::from_files(
            files
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            "en",
            vars,
        )
    }

    #[test]
    fn locale_and_channel_fallbacks() {
        let t = load(&[
            ("en/hi.txt", "Hi from {{ company }} #{{ ticket }}"),
            ("en/hi.email.txt", "Dear customer"),
            ("zh/hi.txt", "你好 {{ company }}"),
        ])
        .expect("load");
        let ctx = ReplyContext {
            ticket: 7,
            ..Default::default()
        };
        assert_eq!(
            t.render("hi", "en", ChannelKind::Web, &ctx).expect("r"),
            "Hi from Acme #7"
        );
        assert_eq!(
            t.render("hi", "zh", ChannelKind::Web, &ctx).expect("r"),
            "你好 Acme"
        );
        assert_eq!(
            t.render("hi", "fr", ChannelKind::Email, &ctx).expect("r"),
            "Dear customer"
        );
        assert!(t.render("nope", "en", ChannelKind::Web, &ctx).is_err());
    }

    #[test]
    fn undefined_variables_fail_the_check() {
        let t = load(&[("en/hi.txt", "Hi {{ compnay }}")]).expect("load");
        let err = t.check_all().expect_err("typo");
        assert!(err.to_string().contains("en/hi"), "{err}");
    }

    #[test]
    fn a_locale_only_template_is_refused() {
        let err = load(&[("zh/only.txt", "只有中文")]).err().expect("refused");
        assert!(err.to_string().contains("default locale"), "{err}");
    }

    #[test]
    fn shipped_templates_render() {
        let config = crate::config::Config::load(None).expect("config");
        let t = Templates::load(None, "en", config.vars).expect("load");
        assert!(t.check_all().expect("render") >= 4);
        assert!(t.locales().contains("zh"));
    }
}
