//! Every input of a token changes it, and every signed input changes its
//! signature; the default inputs are Agora's vector.

use super::*;

#[test]
fn every_input_changes_the_token_and_every_signed_input_its_signature() {
    let base = || Inputs::default();
    let baseline = base().build();
    let variants: Vec<(&str, Inputs)> = vec![
        (
            "app id",
            Inputs {
                app_id: "070CA35de60c44645bbae8a215061b33",
                ..base()
            },
        ),
        (
            "certificate",
            Inputs {
                certificate: "6CFd2fd1755d40ecb72977518be15d3b",
                ..base()
            },
        ),
        (
            "channel",
            Inputs {
                channel: "7d72365eb983485397e3e3f9d460bddb",
                ..base()
            },
        ),
        (
            "uid",
            Inputs {
                uid: UID + 1,
                ..base()
            },
        ),
        ("uid 0", Inputs { uid: 0, ..base() }),
        (
            "token expire",
            Inputs {
                expire: EXPIRE + 1,
                ..base()
            },
        ),
        (
            "privilege expire",
            Inputs {
                privilege_expire: EXPIRE + 1,
                ..base()
            },
        ),
        (
            "salt",
            Inputs {
                salt: SALT + 1,
                ..base()
            },
        ),
        (
            "issue ts",
            Inputs {
                issue_ts: ISSUE_TS + 1,
                ..base()
            },
        ),
        (
            "role",
            Inputs {
                role: RtcRole::Publisher,
                ..base()
            },
        ),
    ];
    for (what, inputs) in variants {
        let token = inputs.build();
        assert_ne!(token, baseline, "{what}");
        assert_ne!(
            inflate(&token)[..34],
            inflate(&baseline)[..34],
            "the signature ignores the {what}"
        );
    }
}

/// The inputs of an RTC token, defaulting to the vector's.
struct Inputs {
    app_id: &'static str,
    certificate: &'static str,
    channel: &'static str,
    uid: u32,
    expire: u32,
    privilege_expire: u32,
    salt: u32,
    issue_ts: u32,
    role: RtcRole,
}

impl Default for Inputs {
    fn default() -> Self {
        Self {
            app_id: APP_ID,
            certificate: CERTIFICATE,
            channel: CHANNEL,
            uid: UID,
            expire: EXPIRE,
            privilege_expire: EXPIRE,
            salt: SALT,
            issue_ts: ISSUE_TS,
            role: RtcRole::Subscriber,
        }
    }
}

impl Inputs {
    fn build(&self) -> String {
        let creds = AgoraCredentials::new(self.app_id, self.certificate).unwrap();
        let mut token = AccessToken::new(&creds, self.expire);
        token.issue_ts = self.issue_ts;
        token.salt = self.salt;
        rtc_access_token(
            token,
            self.channel,
            &uid_string(self.uid),
            self.role,
            self.privilege_expire,
        )
        .build()
        .unwrap()
    }
}

#[test]
fn the_default_inputs_are_the_vectors() {
    assert_eq!(Inputs::default().build(), VECTOR_RTC);
}
