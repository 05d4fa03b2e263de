//! A desk written by the previous release opens with this one, and its
//! export imports: upgrading is replacing the binary (see
//! `tests/fixtures/previous-release/README.md` for how the data was made).

use crate::support::TestGateway;
use frontdesk::model::{Author, ConversationStatus, CustomerAddress};
use frontdesk::store::sled::SledStore;
use frontdesk::store::{ConversationStore, Store};
use std::path::Path;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/previous-release"
);

/// The previous release's data folder, unpacked into `into`.
fn unpack(into: &Path) {
    let status = std::process::Command::new("tar")
        .args(["-xzf", &format!("{FIXTURE}/data.tar.gz"), "-C"])
        .arg(into)
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed");
}

/// What the fixture holds, checked on any store.
async fn assert_the_previous_desk(store: &dyn Store) {
    assert_eq!(store.conversation_count().await.expect("count"), 2);
    let lin = store
        .conversation_by_ticket(1001)
        .await
        .expect("read")
        .expect("ticket 1001");
    assert_eq!(lin.status, ConversationStatus::Resolved);
    assert_eq!(lin.display_name.as_deref(), Some("Lin"));
    assert_eq!(lin.assigned_agent.as_deref(), Some("ann"));
    let transcript = store
        .messages_after(lin.id, 0, 100)
        .await
        .expect("transcript");
    let authors: Vec<Author> = transcript.iter().map(|m| m.author).collect();
    assert!(authors.contains(&Author::Bot), "{authors:?}");
    assert!(authors.contains(&Author::Note), "{authors:?}");
    assert!(
        transcript
            .iter()
            .any(|m| m.author == Author::Agent && m.text.contains("looking into it")),
        "the agent's reply is kept"
    );
    let chinese = store
        .conversation_by_ticket(1002)
        .await
        .expect("read")
        .expect("ticket 1002");
    let answer = store
        .messages_after(chinese.id, 1, 10)
        .await
        .expect("transcript");
    assert!(
        answer.iter().any(|m| m.author == Author::Bot),
        "the Chinese answer is kept"
    );
    let ann = store.agent("ann").await.expect("read").expect("agent ann");
    assert!(!ann.disabled);
}

#[tokio::test]
async fn a_data_folder_of_the_previous_release_opens_with_everything_in_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    unpack(dir.path());
    let store = SledStore::open(&dir.path().join("data")).expect("open the old store");
    assert_the_previous_desk(&store).await;
    // And it keeps working: the customer writes again and the case reopens.
    let lin = store
        .conversation_by_ticket(1001)
        .await
        .expect("read")
        .expect("ticket 1001");
    let CustomerAddress::Web { session_id } = lin.customer else {
        panic!("a web customer");
    };
    let again = frontdesk::model::InboundMessage::text(
        CustomerAddress::Web { session_id },
        "again-1".into(),
        "It came broken".into(),
        chrono::Utc::now(),
    );
    let accepted = store
        .accept(
            &again,
            &frontdesk::store::NewConversation {
                priority: 0,
                locale: "en".into(),
                segment: None,
                tags: Vec::new(),
            },
            &frontdesk::conversation::intake::take_in,
        )
        .await
        .expect("accept");
    assert_eq!(accepted.conversation.id, lin.id);
    assert_eq!(accepted.conversation.status, ConversationStatus::Bot);
    assert!(accepted.message.opens);
}

#[tokio::test]
async fn the_previous_release_s_export_imports_and_the_gateway_serves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("imported");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["import", &format!("{FIXTURE}/export.jsonl"), "--data"])
        .arg(&data)
        .output()
        .expect("run frontdesk import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let store = SledStore::open(&data).expect("open the import");
        let conversations = store.conversation_count().await.expect("count");
        assert_eq!(conversations, 2);
        let lin = store
            .conversation_by_ticket(1001)
            .await
            .expect("read")
            .expect("ticket 1001");
        assert_eq!(lin.status, ConversationStatus::Resolved);
    }
    // The whole gateway starts on it, and the next ticket follows on.
    let gw = TestGateway::start_with(|c| c.server.data_dir = data.clone()).await;
    let session = gw.session().await;
    let (status, body) = gw.post(&session, "first", "hello there").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["ticket"], 1003, "{body}");
    // (That release's export left agents and canned responses out, a bug
    // fixed since: ann is in its data folder, above, but not in its export.)
}
