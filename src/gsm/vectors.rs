//! Known PDUs from public references, none produced by our encoder. Each
//! test names its source; every decoded field is asserted by comparing
//! whole structs.

use super::*;

fn ts(date: (u16, u8, u8), time: (u8, u8, u8), tz_quarters: i8) -> SmscTime {
    SmscTime::Known(Timestamp {
        year: date.0,
        month: date.1,
        day: date.2,
        hour: time.0,
        minute: time.1,
        second: time.2,
        tz_quarters,
    })
}

fn text(coding: DataCoding, class: Option<u8>, text: &str) -> UserData {
    UserData {
        coding,
        class,
        text: text.to_string(),
        concat: None,
        tables: Tables::DEFAULT,
        ports: None,
        body: Vec::new(),
    }
}

fn gsm7(t: &str) -> UserData {
    text(DataCoding::Gsm7, None, t)
}

fn concat8(reference: u16, total: u8, seq: u8) -> Option<Concat> {
    Some(Concat {
        reference,
        total,
        seq,
        ref16: false,
    })
}

fn deliver(pdu: &str) -> Deliver {
    match decode_pdu(pdu, true) {
        // `body` is checked through `text` (they decode the same bytes).
        Ok(Tpdu::Deliver(mut d)) => {
            d.user_data.body.clear();
            d
        }
        other => panic!("{pdu}: {other:?}"),
    }
}

fn submit(pdu: &str) -> Submit {
    match decode_pdu(pdu, true) {
        Ok(Tpdu::Submit(mut s)) => {
            s.user_data.body.clear();
            s
        }
        other => panic!("{pdu}: {other:?}"),
    }
}

fn status_report(pdu: &str, has_smsc: bool) -> StatusReport {
    match decode_pdu(pdu, has_smsc) {
        Ok(Tpdu::StatusReport(s)) => s,
        other => panic!("{pdu}: {other:?}"),
    }
}

// faucamp/python-gsmmodem test/test_pdu.py, TestSmsPdu.test_decode.
#[test]
fn python_gsmmodem_deliver() {
    assert_eq!(
        deliver("06917228195339040B917228214365F700003130805120618005D4F29C2E03"),
        Deliver {
            sender: "+27821234567".into(),
            sender_alphanumeric: false,
            smsc: Some("+2782913593".into()),
            pid: 0x00,
            timestamp: ts((2013, 3, 8), (15, 2, 16), 8),
            user_data: gsm7("Test2"),
        }
    );
    assert_eq!(
        deliver(
            "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E"
        ),
        Deliver {
            sender: "+85291234567".into(),
            sender_alphanumeric: false,
            smsc: Some("+85290000000".into()),
            pid: 0x00,
            timestamp: ts((2007, 4, 12), (23, 25, 42), 32),
            user_data: gsm7("It is easy to read text messages via AT commands."),
        }
    );
    // Extension table and '@'.
    let d = deliver("06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910");
    assert_eq!(d.user_data, gsm7("@{tést}!"));
    assert_eq!(d.timestamp, ts((2013, 3, 26), (13, 35, 25), 8));
}

// faucamp/python-gsmmodem test/test_pdu.py, TestSmsPdu.test_decode: a
// single-part message with an 8-bit concatenation header (7-bit text after
// one fill bit) from a national-format sender.
#[test]
fn python_gsmmodem_deliver_with_udh() {
    assert_eq!(
        deliver(
            "0591721891F1400781721881F800003160526104848059050003C30101916536FB1DCABEEB2074D85E064941B19CAB060319A5C522289C96D3D3ED32286C0FA7D96131BBEC024941B19CAB0603DDD36C36A88C87A7E565D0DB0D82C55EB0DB4B068BCD5C20"
        ),
        Deliver {
            sender: "2781188".into(),
            sender_alphanumeric: false,
            smsc: Some("+2781191".into()),
            pid: 0x00,
            timestamp: ts((2013, 6, 25), (16, 40, 48), 8),
            user_data: UserData {
                concat: concat8(0xC3, 1, 1),
                ..gsm7(
                    "Hello!You have R 19.50 FREE airtime available. R 19.50 will expire on 01/07/2013. "
                )
            },
        }
    );
}

// faucamp/python-gsmmodem test/test_pdu.py, TestSmsPdu.test_decode.
#[test]
fn python_gsmmodem_submit() {
    // TP-SRR set, relative validity 0xA9 (3 days), TP-MR 13.
    assert_eq!(
        submit("07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701"),
        Submit {
            mr: 13,
            number: "+31628870634".into(),
            status_report_requested: true,
            validity: Some(0xA9),
            user_data: gsm7("www.diafaan.com"),
        }
    );
    // UCS-2.
    assert_eq!(
        submit("07914346466554F601000B914316565811F9000806304253F68449"),
        Submit {
            mr: 0,
            number: "+34616585119".into(),
            status_report_requested: false,
            validity: None,
            user_data: text(DataCoding::Ucs2, None, "あ叶葉"),
        }
    );
    // 8-bit data.
    assert_eq!(
        submit("0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421"),
        Submit {
            mr: 0,
            number: "+27821234567".into(),
            status_report_requested: false,
            validity: None,
            user_data: text(DataCoding::EightBit, None, "48656C6C6F20776F726C6421"),
        }
    );
    // Absolute validity period: seven octets skipped, not reported.
    assert_eq!(
        submit(
            "0019000B917228001011F100003170013193008017D474BB3CA787DB70903DCC4E93D3F43C885E9ED301"
        ),
        Submit {
            mr: 0,
            number: "+27820001111".into(),
            status_report_requested: false,
            validity: None,
            user_data: gsm7("Timestamp validity test"),
        }
    );
}

// faucamp/python-gsmmodem test/test_pdu.py, TestSmsPdu.test_decode.
#[test]
fn python_gsmmodem_status_report() {
    assert_eq!(
        status_report("0006D60B911326880736F4111011719551401110117195714000", true),
        StatusReport {
            mr: 0xD6,
            recipient: "+31628870634".into(),
            submitted: ts((2011, 1, 11), (17, 59, 15), 4),
            discharged: ts((2011, 1, 11), (17, 59, 17), 4),
            status: 0,
        }
    );
}

// faucamp/python-gsmmodem test/test_pdu.py, TestSmsPdu.test_decode: the
// UCS-2 PDU whose TP-UDL (160) exceeds what a message can hold.
#[test]
fn python_gsmmodem_bad_udl_is_an_error() {
    let e = decode_pdu("0041010C910661345542F60008A0050003000301306F3044", true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid TP-UDL at octet 13: 160 octets is more than one message holds"
    );
}

// faucamp/python-gsmmodem test/test_pdu.py, TestTimestamp (GMT-8 and GMT+2),
// here inside an otherwise minimal SMS-DELIVER.
#[test]
fn python_gsmmodem_time_zones() {
    let with_scts =
        |scts: &str| deliver(&format!("00040381214300007040213252242{scts}00")).timestamp;
    assert_eq!(with_scts("B"), ts((2007, 4, 12), (23, 25, 42), -32));
    assert_eq!(with_scts("3"), ts((2007, 4, 12), (23, 25, 42), 32));
    assert_eq!(
        ts((2007, 4, 12), (23, 25, 42), -32).text(),
        "2007-04-12 23:25:42-08:00"
    );
}

// pmarti/python-messaging messaging/test/test_sms.py,
// test_decoding_number_alphanumeric: odd and even alphanumeric lengths.
#[test]
fn python_messaging_alphanumeric_senders() {
    assert_eq!(
        deliver(
            "07919471060040340409D0C6A733390400009060920173018093CC74595C96838C4F6772085AD6DDE4320B444E9741D4B03C6D7EC3E9E9B71B9474D3CB727799DEA286CFE5B9991DA6CBC3F432E85E9793CBA0F09A9EB6A7CB72BA0B9474D3CB727799DE72D6E9FABAFB0CBAA7E56490BA4CD7D34170F91BE4ACD3F575F7794E0F9F4161F1B92C2F8FD1EE32DD054AA2E520E3D3991C82A8E5701B"
        ),
        Deliver {
            sender: "FONIC".into(),
            sender_alphanumeric: true,
            smsc: Some("+491760000443".into()),
            pid: 0x00,
            timestamp: ts((2009, 6, 29), (10, 37, 10), 8),
            user_data: gsm7(
                "Lieber FONIC Kunde, die Tarifoption Internet-Tagesflatrate wurde aktiviert. Internet-Nutzung wird jetzt pro Nutzungstag abgerechnet. Ihr FONIC Team"
            ),
        }
    );
    assert_eq!(
        deliver(
            "07919333852804000412D0F7FBDD454FB75D693A0000903002801153402BCD301E9F0605D9E971191483C140412A35690D52832063D2F9040599A058EE05A3BD6430580E"
        ),
        Deliver {
            sender: "www.tim.it".into(),
            sender_alphanumeric: true,
            smsc: Some("+393358824000".into()),
            pid: 0x00,
            timestamp: ts((2009, 3, 20), (8, 11, 35), 4),
            user_data: gsm7("Maxxi Alice 100 ATTIVATA FINO AL 19/04/2009"),
        }
    );
}

// pmarti/python-messaging messaging/test/test_sms.py, test_decoding_ucs2_pdu.
#[test]
fn python_messaging_ucs2_deliver() {
    assert_eq!(
        deliver("07914306073011F0040B914316709807F2000880604290224080084E2D5174901A8BAF"),
        Deliver {
            sender: "+34610789702".into(),
            sender_alphanumeric: false,
            smsc: Some("+34607003110".into()),
            pid: 0x00,
            timestamp: ts((2008, 6, 24), (9, 22, 4), 8),
            user_data: text(DataCoding::Ucs2, None, "中兴通讯"),
        }
    );
}

// pmarti/python-messaging messaging/test/test_sms.py,
// test_decode_sms_confirmation: a status report with a failure status.
#[test]
fn python_messaging_status_report() {
    assert_eq!(
        status_report(
            "07914306073011F006270B913426565711F7012081111345400120811174054043",
            true
        ),
        StatusReport {
            mr: 0x27,
            recipient: "+43626575117".into(),
            submitted: ts((2010, 2, 18), (11, 31, 54), 4),
            discharged: ts((2010, 2, 18), (11, 47, 50), 4),
            status: 0x43,
        }
    );
}

// pmarti/python-messaging messaging/test/test_sms.py,
// test_decode_weird_multipart_german_pdu: TP-DCS 0xF1 (data coding group F,
// GSM 7, class 1), 8-bit reference 25, '€' from the extension table.
#[test]
fn python_messaging_multipart_dcs_f1() {
    let parts = [
        "07919471227210244405852122F039F101506271217180A005000319020198E9B2B82C0759DFE4B0F9ED2EB7967537B9CC02B5D37450122D2FCB41EE303DFD7687D96537881A96A7CD6F383DFD7683F46134BBEC064DD36550DA0D22A7CBF3721BE42CD3F5A0198B56036DCA20B8FC0D6A0A4170767D0EAAE540433A082E7F83A6E5F93CFD76BB40D7B2DB0D9AA6CB2072BA3C2F83926EF31BE44E8FD17450BB8C9683CA",
        "07919471227210244405852122F039F1015062712181804F050003190202E4E8309B5E7683DAFC319A5E76B340F73D9A5D7683A6E93268FD9ED3CB6EF67B0E5AD172B19B2C2693C9602E90355D6683A6F0B007946E8382F5393BEC26BB00",
    ];
    let texts = [
        "Lieber Vodafone-Kunde, mit Ihrer nationalen Tarifoption zahlen Sie in diesem Netz 3,45 € pro MB plus 59 Ct pro Session. Wenn Sie diese Info nicht mehr e",
        "rhalten möchten, wählen Sie kostenlos +4917212220. Viel Spaß im Ausland.",
    ];
    let times = [(17, 12, 17), (17, 12, 18)];
    for i in 0..2 {
        assert_eq!(
            deliver(parts[i]),
            Deliver {
                sender: "12220".into(),
                sender_alphanumeric: false,
                smsc: Some("+491722270142".into()),
                // SC specific use (TS 23.040 §9.2.3.9).
                pid: 0x39,
                timestamp: ts((2010, 5, 26), times[i], 8),
                user_data: UserData {
                    coding: DataCoding::Gsm7,
                    class: Some(1),
                    text: texts[i].into(),
                    concat: concat8(25, 2, i as u8 + 1),
                    tables: Tables::DEFAULT,
                    ports: None,
                    body: Vec::new(),
                },
            }
        );
    }
}

// pmarti/python-messaging messaging/test/test_sms.py, test_encoding_class:
// TP-DCS 0x10..=0x13 (general group with message class).
#[test]
fn python_messaging_dcs_class_bits() {
    for class in 0..4u8 {
        let pdu = format!("0001000B914356143254F600{:02X}06E8721E947F03", 0x10 + class);
        let s = submit(&pdu);
        assert_eq!(s.number, "+34654123456");
        assert_eq!(s.user_data, text(DataCoding::Gsm7, Some(class), "hey yo"));
    }
}

// aosp-mirror/platform_frameworks_base
// telephony/tests/telephonytests/src/com/android/internal/telephony/GsmSmsTest.java
// (testUcs2): UCS-2 with a negative time zone (0x2B = -8 h).
#[test]
fn android_ucs2_negative_tz() {
    assert_eq!(
        deliver(
            "07912160130300F4040B914151245584F600087010807121352B10212200A900AE00680065006C006C006F"
        ),
        Deliver {
            sender: "+14154255486".into(),
            sender_alphanumeric: false,
            smsc: Some("+12063130004".into()),
            pid: 0x00,
            timestamp: ts((2007, 1, 8), (17, 12, 53), -32),
            user_data: text(DataCoding::Ucs2, None, "\u{2122}\u{a9}\u{ae}hello"),
        }
    );
}

// Same file (testMultipart): a two-part 7-bit message, 8-bit reference 0.
#[test]
fn android_multipart_gsm7() {
    let first = deliver(
        "07916163838408F6440B816105224431F700007060217175830AA0050003000201\
         62B1582C168BC562B1582C168BC562B1582C168BC562B1582C\
         168BC562B1582C168BC562B1582C168BC562B1582C168BC562B1582C\
         168BC562B1582C168BC562B1582C168BC562B1582C168BC562B1582C\
         168BC562B1582C168BC562B1582C168BC562B1582C168BC562B1582C\
         168BC562B1582C168BC562B1582C168BC562B1582C168BC562",
    );
    assert_eq!(
        first,
        Deliver {
            sender: "16502244137".into(),
            sender_alphanumeric: false,
            smsc: Some("+16363848806".into()),
            pid: 0x00,
            timestamp: ts((2007, 6, 12), (17, 57, 38), -20),
            user_data: UserData {
                concat: concat8(0, 2, 1),
                ..gsm7(&"1".repeat(153))
            },
        }
    );
    let second = deliver(
        "07916163838408F6440B816105224431F700007060217185000A23050003\
         00020262B1582C168BC96432994C2693C96432994C2693C96432990C",
    );
    assert_eq!(
        second,
        Deliver {
            timestamp: ts((2007, 6, 12), (17, 58, 0), -20),
            user_data: UserData {
                concat: concat8(0, 2, 2),
                ..gsm7("1111111222222222222222222222")
            },
            ..first
        }
    );
}

// Same file (testExtendedCharacterTable).
#[test]
fn android_extension_table() {
    assert_eq!(
        deliver(
            "07914151551512f2040B916105551511f100006080615131728A44D4F29C0E2\
             AE3E96537B94C068DD16179784C2FCB41F4B0985D06B958ADD00FB0E94536AF9749\
             74DA6D281BA00E95E26D509B946FC3DBF87A25D56A04"
        ),
        Deliver {
            sender: "+16505551111".into(),
            sender_alphanumeric: false,
            smsc: Some("+14155551212".into()),
            pid: 0x00,
            timestamp: ts((2006, 8, 16), (15, 13, 27), -28),
            user_data: gsm7("Test extended character table .,-!?@~_\\/&\"';^|:()<{}>[]=%*+#"),
        }
    );
}

// Same file (testUdh): 8-bit data (TP-DCS 0xF5: group F, 8-bit, class 1)
// with a 12-octet header holding a port-address element (skipped) and an
// 8-bit concatenation element.
#[test]
fn android_udh_with_other_elements() {
    let d = deliver(
        "07914140279510F6440A8111110301003BF56080207130138A8C0B05040B8423F\
         000032A02010106276170706C69636174696F6E2F766E642E7761702E6D6D732D\
         6D65737361676500AF848D0185B4848C8298524E453955304A6D7135514141426\
         66C414141414D7741414236514141414141008D908918802B3135313232393737\
         3638332F545950453D504C4D4E008A808E022B918805810306977F83687474703\
         A2F2F36",
    );
    assert_eq!(d.sender, "1111301000");
    assert_eq!(d.smsc.as_deref(), Some("+14047259016"));
    assert_eq!(d.timestamp, ts((2006, 8, 2), (17, 3, 31), -28));
    assert_eq!(d.user_data.coding, DataCoding::EightBit);
    assert_eq!(d.user_data.class, Some(1));
    assert_eq!(d.user_data.concat, concat8(42, 2, 1));
    assert_eq!(d.user_data.text.len(), 2 * (140 - 12));
    assert!(
        d.user_data
            .text
            .starts_with("0106276170706C69636174696F6E2F766E642E7761702E6D6D732D")
    );
    assert!(d.user_data.text.ends_with("687474703A2F2F36"));
}

// schnack/pdu_sms README.md: alphanumeric sender "Tele2", time zone +3 h.
#[test]
fn pdu_sms_alphanumeric_sender() {
    assert_eq!(
        deliver("07911732547698F00009D0D432BB2C0300005111713115142108E8329BFD0E8542"),
        Deliver {
            sender: "Tele2".into(),
            sender_alphanumeric: true,
            smsc: Some("+71234567890".into()),
            pid: 0x00,
            timestamp: ts((2015, 11, 17), (13, 51, 41), 12),
            user_data: gsm7("hello!!!"),
        }
    );
}

// tulak/pdu_tools spec/decoder_spec.rb ("user data header"): a 16-bit
// reference header (7 octets, so no fill bits), TP-UDL 160.
#[test]
fn pdu_tools_16bit_reference() {
    let s = submit(
        "0041000C912491000110000000A0060804C643020154747A0E4ACF416110BD3CA783DAE5F93C7C2E53D1E939283D078541F4F29C0E6A97E7F3F0B94C45A7E7A0F41C1406D1CB733AA85D9ECFC3E732159D9E83D2735018442FCFE9A076793E0F9FCB54747A0E4ACF416110BD3CA783DAE5F93C7C2E53D1E939283D078541F4F29C0E6A97E7F3F0B94C45A7E7A0F41C1406D1CB733AA85D9ECFC3",
    );
    let text = format!("{}This is a test messa", "This is a test message".repeat(6));
    assert_eq!(text.len(), 152);
    assert_eq!(
        s,
        Submit {
            mr: 0,
            number: "+421900100100".into(),
            status_report_requested: false,
            validity: None,
            user_data: UserData {
                concat: Some(Concat {
                    reference: 0xC643,
                    total: 2,
                    seq: 1,
                    ref16: true,
                }),
                ..gsm7(&text)
            },
        }
    );
}

// tulak/pdu_tools spec/decoder_spec.rb: UCS-2 Slovak diacritics, the
// "DHL Express" alphanumeric sender, a subscriber-number sender.
#[test]
fn pdu_tools_more() {
    let s = submit(
        "0001000C9124910001100000083E0054006800690073002000690073002000640069006100630072006900740069006300730020013E0161010D0165017E00FD00E100ED00E400FA00F40148",
    );
    assert_eq!(s.number, "+421900100100");
    assert_eq!(
        s.user_data,
        text(DataCoding::Ucs2, None, "This is diacritics ľščťžýáíäúôň")
    );

    let d = deliver(
        "07912491500030592414D044241354C4C3E5E5F91C00004190200180108095D6B0BEECCE83F4E17558EF4EAF5920B2BB3C0759C36D10485C27D741E4B7BC3E7EDBC3EE32481F9EA7CBEC751E0485324132980D0793C96EB7196E0792C16C38984C76BBCD6E3B900C66C3C164B2DB6D666381C86F71BA2C5F8741319A2CC7CA818A75B90BB47CBBE9E1351D0482E568B4D94D768BDD5C202292092AE2E1F2F27C0E02",
    );
    assert_eq!(
        (d.sender.as_str(), d.sender_alphanumeric),
        ("DHL Express", true)
    );
    assert!(
        d.user_data.text.starts_with("Vazeny zakaznik"),
        "{}",
        d.user_data.text
    );

    let d = deliver(
        "07912491500000410403C055F542F14101124175208030CD30BD0C8A81DC6F7B1EF426AFC37A17C8FA6687D5F432E84D5E87F56F7B1D3467D7F5E23AA856ABB940",
    );
    assert_eq!((d.sender.as_str(), d.sender_alphanumeric), ("555", false));
    assert!(d.user_data.text.starts_with("Mate"), "{}", d.user_data.text);
}

// http://amro.blogspot.com/2007/09/receiving-sms-status-report-message.html:
// a +CDS status report without the SMSC field.
#[test]
fn blog_status_report_without_smsc() {
    assert_eq!(
        status_report("06000B910221815716F2709021510121807090215101718000", false),
        StatusReport {
            mr: 0,
            recipient: "+20121875612".into(),
            submitted: ts((2007, 9, 12), (15, 10, 12), 8),
            discharged: ts((2007, 9, 12), (15, 10, 17), 8),
            status: 0,
        }
    );
}

// http://subnets.ru/saved/sms_pdu_format.html (saved copy of the
// dreamfabric.com "SMS and the PDU format" page): "hellohello" from a
// number of type 0xC8. The year 99 reads as 2099 by our 2000+yy rule.
#[test]
fn dreamfabric_hellohello() {
    assert_eq!(
        deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"),
        Deliver {
            sender: "27838890001".into(),
            sender_alphanumeric: false,
            smsc: Some("+27381000015".into()),
            pid: 0x00,
            timestamp: ts((2099, 3, 29), (15, 16, 59), 8),
            user_data: gsm7("hellohello"),
        }
    );
}
