//! Intent classification: 300 synthetic intents against the loop, and the
//! shipped pack on held-out text.

use super::*;

pub(crate) const EN_WORDS: &[&str] = &[
    "order",
    "parcel",
    "refund",
    "invoice",
    "account",
    "password",
    "delivery",
    "address",
    "payment",
    "card",
    "shipping",
    "return",
    "cancel",
    "change",
    "track",
    "coupon",
    "review",
    "newsletter",
    "complaint",
    "warranty",
    "size",
    "colour",
    "stock",
    "price",
    "discount",
];

pub(crate) const ZH_WORDS: &[&str] = &[
    "订单",
    "包裹",
    "退款",
    "发票",
    "账户",
    "密码",
    "配送",
    "地址",
    "付款",
    "银行卡",
    "运费",
    "退货",
    "取消",
    "修改",
    "物流",
    "优惠券",
    "评价",
    "订阅",
    "投诉",
    "保修",
    "尺码",
    "颜色",
    "库存",
    "价格",
    "折扣",
];

/// 300 intents, each with an English pattern (two words in order, ASCII
/// word boundaries) and a Chinese one.
pub(crate) fn synthetic_intents() -> (Vec<(String, String)>, Vec<String>) {
    let mut files = Vec::new();
    let mut patterns = Vec::new();
    for i in 0..300 {
        let (a, b) = (
            i % EN_WORDS.len(),
            (i / EN_WORDS.len() + i + 1) % EN_WORDS.len(),
        );
        let en = format!(
            r"(?-u:\b){}(?-u:\b).*(?-u:\b){}(?-u:\b)",
            EN_WORDS[a], EN_WORDS[b]
        );
        let zh = format!("{}.*{}", ZH_WORDS[a], ZH_WORDS[b]);
        files.push((
            format!("i{i:03}.toml"),
            format!("name = \"i{i:03}\"\naction = \"handoff\"\n[patterns]\nen = ['{en}']\nzh = ['{zh}']\n"),
        ));
        patterns.push(en);
        patterns.push(zh);
    }
    (files, patterns)
}

pub(crate) fn texts() -> Vec<String> {
    let mut texts = Vec::new();
    for i in 0..50 {
        let a = EN_WORDS[i % EN_WORDS.len()];
        let b = EN_WORDS[(i * 7 + 3) % EN_WORDS.len()];
        texts.push(format!(
            "hello, I have a question about my {a} and the {b}, it has been a week already"
        ));
        let za = ZH_WORDS[i % ZH_WORDS.len()];
        let zb = ZH_WORDS[(i * 7 + 3) % ZH_WORDS.len()];
        texts.push(format!(
            "你好，我想问一下我的{za}和{zb}的问题，已经一个星期了还没有消息"
        ));
    }
    texts
}

pub(crate) fn bench_intents(scale: &Scale) -> String {
    let (files, patterns) = synthetic_intents();
    let set = IntentSet::from_files(files).expect("synthetic intents compile");
    let loop_regexes: Vec<Regex> = patterns
        .iter()
        .map(|p| Regex::new(p).expect("regex"))
        .collect();
    let texts = texts();
    let (en, zh): (Vec<&String>, Vec<&String>) = texts.iter().partition(|t| t.is_ascii());
    let time = |f: &dyn Fn(&str) -> usize, sample: &[&String]| {
        let mut hits = 0;
        let started = Instant::now();
        for _ in 0..scale.rounds {
            for t in sample.iter().take(scale.messages) {
                hits += f(t);
            }
        }
        let n = (scale.rounds * sample.len().min(scale.messages)) as f64;
        (started.elapsed().as_secs_f64() * 1e6 / n, hits)
    };
    let with_set = |t: &str| usize::from(set.classify(t).is_some());
    let with_loop = |t: &str| {
        let text = frontdesk::rules::intents::normalize(t);
        usize::from(loop_regexes.iter().any(|r| r.is_match(&text)))
    };
    // Warm the lazy DFAs so both sides are measured hot.
    time(&with_set, &en);
    time(&with_set, &zh);
    time(&with_loop, &en);
    time(&with_loop, &zh);
    let mut out = String::from(
        "| text | PatternSet (µs/message) | 600 Regexes in a loop (µs/message) | speed-up |\n|---|---|---|---|\n",
    );
    for (name, sample) in [("English", &en), ("Chinese", &zh)] {
        let (set_us, set_hits) = time(&with_set, sample);
        let (loop_us, loop_hits) = time(&with_loop, sample);
        assert_eq!(set_hits, loop_hits, "both sides must find the same matches");
        out.push_str(&format!(
            "| {name} | {set_us:.2} | {loop_us:.2} | {:.1}× |\n",
            loop_us / set_us
        ));
    }
    out
}

/// The texts of one `tests/data/intents/` file.
pub(crate) fn intent_texts(file: &str) -> Vec<String> {
    let path = format!("{}/tests/data/intents/{file}", env!("CARGO_MANIFEST_DIR"));
    csv::Reader::from_path(&path)
        .expect("intent data")
        .records()
        .filter_map(|r| r.ok().and_then(|r| r.get(0).map(str::to_string)))
        .collect()
}

/// The held-out utterances of `tests/data/intents/`, English and Chinese.
pub(crate) fn held_out_texts() -> (Vec<String>, Vec<String>) {
    (intent_texts("bitext-test.csv"), intent_texts("zh-test.csv"))
}

/// The development utterances: what a gateway has seen before the
/// held-out text arrives.
pub(crate) fn development_texts() -> Vec<String> {
    ["bitext-dev.csv", "en-dev.csv", "zh-dev.csv", "none-dev.csv"]
        .iter()
        .flat_map(|f| intent_texts(f))
        .collect()
}

/// The shipped pack: every text once on a freshly loaded set (the lazy DFA
/// still building its states, as for new customer text), then again hot.
pub(crate) fn bench_shipped_intents(scale: &Scale) -> String {
    let (en, zh) = held_out_texts();
    let seen_before = development_texts();
    let mut out = String::from(
        "| text | PatternSet, first pass on a fresh set (µs/message) | new text after the development texts | PatternSet, hot | patterns as separate Regexes in a loop, hot | speed-up (hot) |\n|---|---|---|---|---|---|\n",
    );
    for (name, texts) in [("English (bitext-test)", &en), ("Chinese (zh-test)", &zh)] {
        let texts: Vec<&String> = texts.iter().take(scale.messages * 10).collect();
        let set = IntentSet::load(None).expect("shipped intents");
        let loop_regexes: Vec<Regex> = set
            .compiled_patterns()
            .iter()
            .map(|p| Regex::new(p).expect("regex"))
            .collect();
        let per_message = |f: &dyn Fn(&str) -> usize, rounds: usize| {
            let started = Instant::now();
            let mut hits = 0;
            for _ in 0..rounds {
                for t in &texts {
                    hits += f(t);
                }
            }
            (
                started.elapsed().as_secs_f64() * 1e6 / (rounds * texts.len()) as f64,
                hits / rounds.max(1),
            )
        };
        let with_set = |t: &str| usize::from(set.classify(t).is_some());
        let with_loop = |t: &str| {
            let text = frontdesk::rules::intents::normalize(t);
            loop_regexes
                .iter()
                .filter(|r| r.is_match(&text))
                .count()
                .min(1)
        };
        let (cold, _) = per_message(&with_set, 1);
        // New text on a gateway that has already served other customers:
        // a fresh set, warmed on the development texts, then each
        // held-out text once.
        let warmed = IntentSet::load(None).expect("shipped intents");
        for t in &seen_before {
            warmed.classify(t);
        }
        let (new_on_warm, _) = per_message(&|t: &str| usize::from(warmed.classify(t).is_some()), 1);
        let rounds = scale.rounds.div_ceil(10).max(1);
        let (hot, set_hits) = per_message(&with_set, rounds);
        per_message(&with_loop, 1);
        let (looped, _) = per_message(&with_loop, rounds);
        let _ = set_hits;
        out.push_str(&format!(
            "| {name}, {} texts, {} patterns | {cold:.1} | {new_on_warm:.1} | {hot:.2} | {looped:.1} | {:.1}× |\n",
            texts.len(),
            set.pattern_count(),
            looped / hot
        ));
    }
    out
}
