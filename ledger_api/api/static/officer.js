/* The customs officer's page: plain JS, no framework. The credential token lives in
   sessionStorage (this tab only) and is sent as a bearer header, never in a URL.
   The officer's signing key is decrypted from their keystore file by ethers (served by the
   service from npm) and kept in one variable of this closure: never in storage, a URL, a
   request or the console; dropped on Forget key and when the tab is closed. */
(function () {
  "use strict";

  var TOKEN_KEY = "ledger.officer.token";
  var LANE_ICON = { GREEN: "\u25CF", AMBER: "\u25B2", RED: "\u25A0" }; // ● ▲ ■
  var VERDICT_ICON = { VERIFIED: "\u2714", FAILED: "\u2716", INCOMPLETE: "\u25D4" }; // ✔ ✖ ◔
  var CHECK_ICON = { VALID: "\u2714", INVALID: "\u2716", ERROR: "\u26A0", SKIPPED: "\u2013" };

  var $ = function (id) { return document.getElementById(id); };
  var last = null; // {ucr, country, verification}

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function token() { return ($("token").value || "").trim(); }

  function headers() {
    var h = { Accept: "application/json" };
    if (token()) h.Authorization = "Bearer " + token();
    return h;
  }

  function short(addr) {
    if (!addr) return "\u2014";
    return addr.length > 12 ? addr.slice(0, 6) + "\u2026" + addr.slice(-4) : addr;
  }

  /* A party by its legal name, the address on hover and a button that copies it; the
     address alone (shortened) when the service holds no name for it. */
  function partyEl(addr, parties) {
    if (!addr) return el("span", { text: "\u2014" });
    var known = (parties || {})[addr] || {};
    var ids = known.identifiers || {};
    var extra = ["eori", "lei", "gln"].filter(function (k) { return ids[k]; })
      .map(function (k) { return k.toUpperCase() + " " + ids[k]; });
    var label = known.name || short(addr);
    var title = addr + (extra.length ? "\n" + extra.join("\n") : "");
    var copy = el("button", { type: "button", class: "copy", title: "Copy address " + addr, "aria-label": "Copy address", "data-address": addr, text: "copy" });
    copy.addEventListener("click", function () {
      if (navigator.clipboard) navigator.clipboard.writeText(addr).catch(function () {});
    });
    return el("span", { class: "party", title: title, "data-address": addr }, [
      el("span", { class: known.name ? "party-name" : "addr", text: label }), copy,
    ]);
  }

  function list(value) {
    if (!value) return "\u2014";
    if (Array.isArray(value)) return value.length ? value.join(", ") : "\u2014";
    return String(value);
  }

  /* An API error becomes an Error carrying the status and the problem's detail and code. */
  function request(path, options) {
    var init = { headers: headers(), cache: "no-store" };
    if (options && options.body) {
      init.method = options.method || "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = options.body;
    }
    return fetch(path, init).then(
      function (response) {
        if (response.ok) return response;
        return response.text().then(function (body) {
          var detail = "", code = null, errors = [];
          try {
            var p = JSON.parse(body);
            detail = p.detail || p.title || "";
            code = p.code || null;
            errors = p.errors || [];
          } catch (e) { detail = body; }
          var err = new Error(detail);
          err.code = code;
          err.errors = errors;
          err.status = response.status;
          err.retryAfter = response.headers.get("Retry-After");
          throw err;
        });
      },
      function () {
        var err = new Error("the service could not be reached");
        err.status = 0;
        throw err;
      }
    );
  }

  function explain(err) {
    switch (err.status) {
      case 401:
        return { kind: "error", text: "401 \u2014 A credential is required: paste your officer credential token above and try again." };
      case 403:
        return { kind: "error", text: "403 \u2014 Your credential does not allow this." };
      case 404:
        return { kind: "warn", text: "404 \u2014 Not found, or not visible to your credential. Check the UCR and verifying country." };
      case 422:
        return { kind: "warn", text: "422 \u2014 The request is not valid: " + err.message };
      case 503:
        return {
          kind: "warn",
          text: "503 \u2014 The chain is unreachable right now: try again" +
            (err.retryAfter ? " in " + err.retryAfter + " s." : " shortly."),
        };
      case 0:
        return { kind: "error", text: "The service could not be reached: check your connection and try again." };
      default:
        return { kind: "error", text: err.status + " \u2014 " + (err.message || "unexpected error") };
    }
  }

  function show(id, message) {
    var box = $(id);
    if (!message) { box.hidden = true; box.textContent = ""; return; }
    box.className = "message " + message.kind;
    box.textContent = message.text;
    box.hidden = false;
  }

  function renderVerdict(v) {
    var badge = $("verdict");
    badge.className = "badge " + v.verdict;
    badge.textContent = (VERDICT_ICON[v.verdict] || "") + " " + v.verdict;
    $("verdict-meta").textContent =
      v.ucr + " \u00B7 verified by " + v.verifying_country + " \u00B7 as of block " + v.as_of_block;
    var lane = $("lane");
    lane.className = "lane " + v.risk.lane;
    lane.textContent = (LANE_ICON[v.risk.lane] || "") + " " + v.risk.lane + " lane \u00B7 score " + v.risk.score;
    lane.setAttribute("aria-label", v.risk.lane + " lane, risk score " + v.risk.score);

    renderDecisionInForce(v, {});

    var body = $("checks").tBodies[0];
    body.textContent = "";
    v.checks.forEach(function (c) {
      body.appendChild(el("tr", { "data-check": c.name }, [
        el("td", { class: "code", text: c.name }),
        el("td", { class: "status " + c.status, text: (CHECK_ICON[c.status] || "") + " " + c.status }),
        el("td", { class: "reason" }, [el("span", { class: "code", text: c.reason.code }), " \u2014 " + c.reason.message]),
      ]));
    });

    var fired = $("fired");
    fired.textContent = "";
    if (!v.risk.fired.length) fired.appendChild(el("li", { text: "No rule fired." }));
    v.risk.fired.forEach(function (f) {
      fired.appendChild(el("li", {}, [
        el("span", { class: "code", text: f.id }), " (+" + f.points + ") " + f.description + ": " + f.reason,
      ]));
    });
  }

  /* The verifying country's customs decision in force, as the verdict (and its receipt)
     carries it: which, by whom, at which block; names once the consignment's parties are known. */
  function renderDecisionInForce(v, parties) {
    var box = $("verdict-decision");
    box.textContent = "";
    var d = v.decision;
    box.setAttribute("data-decision", d ? d.decision : "");
    box.className = "decision-in-force" + (d && OPENING[d.decision] ? " open" : "");
    if (!d) {
      box.textContent = "No decision of customs of " + v.verifying_country + " in force.";
      return;
    }
    box.appendChild(document.createTextNode(d.decision + " in force — customs of " + d.country + ", signed by "));
    box.appendChild(partyEl(d.by, parties));
    box.appendChild(document.createTextNode(" at block " + d.block + " (" + d.customs_office + ", " + d.time + ")"));
  }

  function renderTimeline(c) {
    var body = $("timeline").tBodies[0];
    body.textContent = "";
    var custody = $("custody");
    custody.textContent = "";
    custody.appendChild(document.createTextNode("Custodian "));
    custody.appendChild(partyEl(c.custodian, c.parties));
    if (c.pending_custodian) {
      custody.appendChild(document.createTextNode(" \u00B7 handover pending to "));
      custody.appendChild(partyEl(c.pending_custodian, c.parties));
    }
    custody.appendChild(document.createTextNode(" \u00B7 exporter "));
    custody.appendChild(partyEl(c.exporter, c.parties));
    c.records.forEach(function (r) {
      var p = r.payload || {};
      var pending = r.status !== "confirmed" && r.status !== "failed";
      var awaiting = !!c.pending_custodian && r.kind === "HANDOVER" && r.counterparty === c.pending_custodian &&
        r.position === c.records[c.records.length - 1].position;
      var status = el("td", { class: "status " + (pending ? "pending" : r.status) }, [
        pending ? "\u25D4 pending (" + r.status + ")" : (r.status === "confirmed" ? "\u2714 " : "\u2716 ") + r.status,
      ]);
      status.appendChild(el("div", { class: "meta", text: r.confirmations + " confirmation" + (r.confirmations === 1 ? "" : "s") +
        (r.block_number != null ? " \u00B7 block " + r.block_number : "") }));
      var kind = el("td", { class: "code", text: r.kind });
      if (pending) kind.appendChild(el("span", { class: "tag-pending", text: "pending" }));
      else if (awaiting) kind.appendChild(el("span", { class: "tag-pending", text: "pending acceptance" }));
      var who = el("td", { class: "who" }, [partyEl(r.party, c.parties)]);
      if (r.counterparty) who.appendChild(el("div", { class: "meta" }, ["\u2192 ", partyEl(r.counterparty, c.parties)]));
      body.appendChild(el("tr", { class: pending || awaiting ? "pending" : "", "data-record": r.id }, [
        el("td", { text: String(r.position) }),
        kind,
        who,
        el("td", { class: "code", text: p.location || "\u2014" }),
        el("td", { text: p.time || "\u2014" }),
        el("td", { text: list(p.seals) }),
        el("td", { text: list(p.containers) }),
        status,
      ]));
    });
  }

  function verify(event) {
    event.preventDefault();
    var ucr = $("ucr").value.trim();
    var country = $("country").value.trim().toUpperCase();
    if (token()) sessionStorage.setItem(TOKEN_KEY, token());
    else sessionStorage.removeItem(TOKEN_KEY);
    show("message", { kind: "info", text: "Verifying " + ucr + " for " + country + "\u2026" });
    $("verify").disabled = true;
    var q = "?country=" + encodeURIComponent(country);
    var base = "/v1/consignments/" + encodeURIComponent(ucr);
    request(base + "/verification" + q)
      .then(function (r) { return r.json(); })
      .then(function (v) {
        last = { ucr: ucr, country: country, verification: v };
        renderVerdict(v);
        $("result").hidden = false;
        show("message", null);
        return request(base).then(function (r) { return r.json(); }).then(function (c) {
          if (last) last.consignment = c;
          renderTimeline(c);
          renderDecisionState(c, country);
          renderDecisionInForce(v, c.parties);
        }, function (err) {
          $("timeline").tBodies[0].textContent = "";
          $("custody").textContent = "Custody timeline unavailable: " + explain(err).text;
          $("decision-state").textContent = "";
        });
      })
      .catch(function (err) {
        $("result").hidden = true;
        $("decision-state").textContent = "";
        last = null;
        show("message", explain(err));
      })
      .then(function () { $("verify").disabled = false; });
  }

  /* ------------------------------------------------------------ deciding */

  var signer = null; // {wallet, party}: the decrypted key, in this closure only
  var OPENING = { HOLD: true, INSPECTION_ORDERED: true };
  var DISCREPANCY_ORDER = ["GOODS", "QUANTITY", "VALUE", "ORIGIN", "SEALS"];

  /* The country's decisions in the consignment's order; a revoked one stands for nothing. */
  function decisionsOf(c, country) {
    var revoked = {};
    c.records.forEach(function (r) {
      if (r.kind === "REVOCATION" && r.status !== "failed" && r.payload) revoked[String(r.payload.revoked_record).toLowerCase()] = true;
    });
    return c.records.filter(function (r) {
      return r.kind === "CUSTOMS_DECISION" && r.status !== "failed" && !revoked[String(r.id).toLowerCase()] &&
        (r.payload || {}).authority_country === country;
    }).map(function (r) { return r.payload; });
  }

  function renderDecisionState(c, country) {
    var mine = decisionsOf(c, country);
    var latest = mine.length ? mine[mine.length - 1] : null;
    var text;
    if (!latest) text = "Customs of " + country + " has not decided yet: awaiting its decision.";
    else if (OPENING[latest.decision]) text = "Customs of " + country + ": " + latest.decision + " \u2014 decision open, awaiting " + (latest.decision === "HOLD" ? "release or inspection." : "the inspection's outcome.");
    else {
      text = "Customs of " + country + " decided: " + latest.decision;
      var insp = latest.inspection;
      if (latest.decision === "INSPECTED" && insp) {
        text += " \u2014 " + (insp.result === "CONFORM" ? "conforms" : "discrepancy in " + (insp.discrepancies || []).join(", ").toLowerCase());
        if (insp.findings) text += " (" + insp.findings + ")";
      }
    }
    var box = $("decision-state");
    box.textContent = text;
    box.setAttribute("data-decision", latest ? latest.decision : "");
  }

  /* RFC 8785 (JCS) for the JSON a payload is: sorted keys (UTF-16 order, as JS sorts),
     ECMAScript number and string forms, nulls left out as the service leaves them out. */
  function canonical(value) {
    if (value === null || typeof value !== "object") return JSON.stringify(value);
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    return "{" + Object.keys(value).filter(function (k) { return value[k] !== null && value[k] !== undefined; })
      .sort().map(function (k) { return JSON.stringify(k) + ":" + canonical(value[k]); }).join(",") + "}";
  }

  function explainDecision(err, country) {
    var route = last && last.consignment && last.consignment.route ? last.consignment.route.join(" \u2192 ") : "";
    switch (err.code) {
      case "PARTY_NOT_ACTIVE":
        return { kind: "error", text: "Refused: your officer key is revoked or suspended in the party registry, so the ledger takes no decision it signs. Ask your authority's registry administrator." };
      case "NOT_ON_ROUTE":
        return { kind: "error", text: "Refused: customs of " + country + " is not on this consignment's route" + (route ? " (" + route + ")" : "") + ": only customs of its origin, destination or transit countries decide on it." };
      case "WRONG_CREDENTIAL":
        return { kind: "error", text: "Refused: the credential token above is not this key's officer's. Paste your own credential." };
      case "MISSING_ROLE":
        return { kind: "error", text: "Refused: this key is not registered as customs, so it cannot record decisions." };
      case "NONCE_MISMATCH":
      case "STALE_PREVIOUS":
        return { kind: "warn", text: "Another record landed meanwhile: verify again and re-submit." };
      default:
        if (err.status === 404) {
          return { kind: "error", text: "Refused: customs of " + country + " cannot read this consignment's records: it is not on this consignment's route, so it cannot decide on it." };
        }
        if (err.status === 422 && err.errors && err.errors.length) {
          return { kind: "warn", text: "422 \u2014 " + err.errors.map(function (e) { return e.field + ": " + e.reason; }).join("; ") };
        }
        return explain(err);
    }
  }

  function showSigner() {
    var status = $("key-status");
    if (!signer) { status.textContent = "No key loaded."; return; }
    var p = signer.party;
    status.textContent = "Key loaded: " + (p && p.name ? p.name + " " : "") + signer.wallet.address +
      (p ? " \u00B7 customs of " + p.country + " \u00B7 " + p.status : " \u00B7 not a registered party");
  }

  function forgetKey(quiet) {
    signer = null;
    $("keystore-pass").value = "";
    $("keystore-file").value = "";
    showSigner();
    if (!quiet) show("key-message", { kind: "info", text: "Key forgotten: nothing of it is left in this page." });
  }

  function loadKey(event) {
    event.preventDefault();
    show("key-message", null);
    if (typeof ethers === "undefined") {
      show("key-message", { kind: "error", text: "The signing library is not available from this service: decisions cannot be signed here." });
      return;
    }
    var file = $("keystore-file").files[0];
    var pass = $("keystore-pass").value;
    if (!file) { show("key-message", { kind: "warn", text: "Choose your keystore file first." }); return; }
    $("load-key").disabled = true;
    show("key-message", { kind: "info", text: "Decrypting the key in this browser\u2026" });
    file.text().then(function (json) {
      return ethers.Wallet.fromEncryptedJson(json, pass);
    }).then(function (wallet) {
      signer = { wallet: wallet, party: null };
      $("keystore-pass").value = "";
      $("keystore-file").value = "";
      return request("/v1/parties/" + wallet.address).then(function (r) { return r.json(); }).then(function (p) {
        signer.party = p;
        if (p.status !== "active") {
          show("key-message", { kind: "error", text: "This key's officer is " + p.status + " in the party registry: the ledger refuses the decisions it signs." });
        } else if (p.roles.indexOf("CUSTOMS") < 0) {
          show("key-message", { kind: "warn", text: "This key is not registered as customs: it cannot record decisions." });
        } else show("key-message", null);
      }, function () { show("key-message", { kind: "warn", text: "This key is not a registered party of the ledger." }); });
    }, function (err) {
      var text = /password/i.test(String(err && err.message))
        ? "Wrong passphrase: the keystore file could not be decrypted. Nothing was loaded."
        : "This file is not a keystore (v3 JSON) this page can open. Nothing was loaded.";
      $("keystore-pass").value = "";
      show("key-message", { kind: "error", text: text });
    }).then(function () { showSigner(); $("load-key").disabled = false; });
  }

  function decisionPayload(country, ucr) {
    var decision = $("decision").value;
    var payload = {
      schema_version: "1",
      kind: "CUSTOMS_DECISION",
      ucr: ucr,
      authority_country: country,
      customs_office: $("office").value.trim().toUpperCase(),
      decision: decision,
      time: new Date().toISOString().slice(0, 19) + "Z",
    };
    var findings = $("findings").value.trim();
    if (decision === "INSPECTION_ORDERED") payload.inspection = { method: $("method").value, result: "PENDING" };
    else if (decision === "INSPECTED") {
      var result = $("result-select").value;
      payload.inspection = { method: $("method").value, result: result };
      if (result === "NON_CONFORM") {
        var ticked = Array.prototype.map.call(document.querySelectorAll("#discrepancies input:checked"), function (i) { return i.value; });
        payload.inspection.discrepancies = DISCREPANCY_ORDER.filter(function (d) { return ticked.indexOf(d) >= 0; });
      }
      if (findings) payload.inspection.findings = findings;
    }
    if (findings && decision !== "INSPECTED") payload.remarks = findings;
    return payload;
  }

  function signDecision(event) {
    event.preventDefault();
    show("decision-message", null);
    if (!signer) { show("decision-message", { kind: "warn", text: "Load your signing key first." }); return; }
    var ucr = last ? last.ucr : $("ucr").value.trim();
    if (!ucr) { show("decision-message", { kind: "warn", text: "Enter the consignment's UCR first." }); return; }
    var wallet = signer.wallet;
    var country = signer.party ? signer.party.country : $("country").value.trim().toUpperCase();
    if (signer.party && signer.party.status !== "active") {
      // The registry's word, as the service would give it: no need to sign what it refuses.
      show("decision-message", explainDecision({ code: "PARTY_NOT_ACTIVE", status: 403 }, country));
      return;
    }
    $("sign-decision").disabled = true;
    show("decision-message", { kind: "info", text: "Signing in this browser\u2026" });
    Promise.all([
      request("/v1/ledger").then(function (r) { return r.json(); }),
      request("/v1/consignments/" + encodeURIComponent(ucr)).then(function (r) { return r.json(); }),
      request("/v1/parties/" + wallet.address).then(function (r) { return r.json(); }),
    ]).then(function (answers) {
      var ledger = answers[0], consignment = answers[1], party = answers[2];
      if (last) last.consignment = consignment;
      var live = consignment.records.filter(function (r) { return r.status !== "failed"; });
      var payload = decisionPayload(party.country, ucr);
      var record = {
        consignment: ethers.keccak256(ethers.toUtf8Bytes(ucr)),
        kind: 3, // CUSTOMS_DECISION
        payloadHash: ethers.keccak256(ethers.toUtf8Bytes(canonical(payload))),
        previous: live.length ? live[live.length - 1].id : ethers.ZeroHash,
        party: wallet.address,
        counterparty: ethers.ZeroAddress,
        nonce: party.next_nonce,
        deadline: Math.floor(Date.now() / 1000) + 3600,
        route: [],
      };
      var types = { Record: ledger.record_type };
      return wallet.signTypedData(ledger.eip712_domain, types, record).then(function (signature) {
        var body = { record: Object.assign({}, record, { kind: "CUSTOMS_DECISION" }), signature: signature, payload: payload };
        return request("/v1/records", { body: JSON.stringify(body) });
      });
    }).then(function (r) { return r.json(); }).then(function (accepted) {
      var done = "Signed and accepted: " + $("decision").value + " as record " + accepted.id;
      show("decision-message", { kind: "ok", text: done + ". Waiting for the chain\u2026" });
      return waitIncluded(accepted.id).then(function (r) {
        show("decision-message", { kind: "ok", text: done + (r ? " \u2014 " + r.status + "." : ".") });
        $("verify-form").dispatchEvent(new Event("submit", { cancelable: true }));
        if ($("worklist").tBodies[0].rows.length) loadWorklist(false);
      });
    }).catch(function (err) {
      show("decision-message", explainDecision(err, country));
    }).then(function () { $("sign-decision").disabled = false; });
  }

  function waitIncluded(id) {
    var tries = 0;
    return new Promise(function (resolve) {
      (function poll() {
        request("/v1/records/" + id).then(function (r) { return r.json(); }).then(function (r) {
          if (r.status === "confirmed" || r.status === "failed" || ++tries > 40) resolve(r);
          else setTimeout(poll, 250);
        }, function () { resolve(null); });
      })();
    });
  }

  function toggleInspection() {
    var d = $("decision").value;
    $("method").disabled = !(d === "INSPECTION_ORDERED" || d === "INSPECTED");
    $("result-select").disabled = d !== "INSPECTED";
    $("discrepancies").disabled = !(d === "INSPECTED" && $("result-select").value === "NON_CONFORM");
  }

  /* ------------------------------------------------------------ worklist */

  var worklistCursor = null;
  var live = { abort: null, retry: 1000, timer: null, reload: null, country: null };

  function officerCountry() { return $("country").value.trim().toUpperCase(); }

  function unix(dateInput) {
    var v = $(dateInput).value;
    return v ? String(Math.floor(Date.parse(v + "T00:00:00Z") / 1000)) : null;
  }

  function worklistQuery(cursor) {
    var q = new URLSearchParams({ country: officerCountry(), status: $("wl-status").value, limit: "50" });
    if ($("wl-lane").value) q.set("lane", $("wl-lane").value);
    if ($("wl-hs").value.trim()) q.set("hs_chapter", $("wl-hs").value.trim());
    if ($("wl-party").value.trim()) q.set("party", $("wl-party").value.trim());
    if (unix("wl-from")) q.set("arrived_from", unix("wl-from"));
    if (unix("wl-until")) q.set("arrived_until", String(Number(unix("wl-until")) + 86400)); // the whole day
    if (cursor) q.set("cursor", cursor);
    return "/v1/worklist?" + q.toString();
  }

  function worklistRow(item) {
    var aeo = item.exporter_aeo_recognised === true ? "\u2714 AEO" + (item.exporter_aeo_programme ? " " + item.exporter_aeo_programme : "")
      : item.exporter_aeo_recognised === false ? "\u2716 not recognised" : "AEO unknown";
    var parties = {};
    parties[item.exporter.address] = item.exporter;
    parties[item.custodian.address] = item.custodian;
    var fired = el("td", { class: "fired-cell" });
    if (!item.fired.length) fired.appendChild(document.createTextNode("\u2014"));
    item.fired.forEach(function (f, i) {
      if (i) fired.appendChild(document.createTextNode(", "));
      fired.appendChild(el("span", { class: "rule", title: f.id, text: f.id + " " + f.description }));
    });
    var ev = item.last_event;
    var decision = item.awaiting_decision
      ? (item.last_decision ? item.last_decision + " \u2014 open" : "awaiting")
      : item.last_decision + (item.last_decision === "INSPECTED" ? (item.discrepancy ? " \u2014 discrepancy" : " \u2014 conforms") : "");
    var row = el("tr", { "data-ucr": item.ucr, "data-lane": item.lane, tabindex: "0", title: "Open the verification of " + item.ucr }, [
      el("td", { class: "lane-cell " + item.lane, text: (LANE_ICON[item.lane] || "") + " " + item.lane + " \u00B7 " + item.score }),
      el("td", { class: "code", text: item.ucr }),
      fired,
      el("td", {}, [partyEl(item.exporter.address, parties), el("div", { class: "meta", text: aeo })]),
      el("td", {}, [partyEl(item.custodian.address, parties)]),
      el("td", {}, [el("span", { class: "code", text: ev.kind }), " " + (ev.place || ""), el("div", { class: "meta", text: ev.time || "" })]),
      el("td", { class: "decision-cell", text: decision }),
    ]);
    function open(e) {
      if (e.target && e.target.tagName === "BUTTON") return; // the copy button
      $("ucr").value = item.ucr;
      $("verify-form").dispatchEvent(new Event("submit", { cancelable: true }));
      $("result").scrollIntoView && $("result").scrollIntoView();
    }
    row.addEventListener("click", open);
    row.addEventListener("keydown", function (e) { if (e.key === "Enter") open(e); });
    return row;
  }

  function loadWorklist(more) {
    if (!token()) { show("worklist-message", { kind: "error", text: "401 \u2014 A credential is required: paste your officer credential token above." }); return Promise.resolve(); }
    sessionStorage.setItem(TOKEN_KEY, token());
    var body = $("worklist").tBodies[0];
    return request(worklistQuery(more ? worklistCursor : null)).then(function (r) { return r.json(); }).then(function (page) {
      if (!more) body.textContent = "";
      page.items.forEach(function (item) { body.appendChild(worklistRow(item)); });
      worklistCursor = page.next_cursor;
      $("worklist-more").hidden = !page.next_cursor;
      $("worklist").setAttribute("data-loaded", String(Date.now()));
      // Lines the service has not computed yet are not in the ranking: say so (the stream reloads it as they land).
      var pending = page.pending ? { kind: "info", text: page.pending.toLocaleString("en") + " more consignments on the route of " + page.country + " are still being ranked; the list reloads as they are." } : null;
      show("worklist-message", pending || (page.items.length || more ? null : { kind: "info", text: "Nothing on the worklist of " + page.country + " with these filters." }));
      if (live.country !== page.country) connectLive(page.country);
    }, function (err) {
      var message = explain(err);
      if (err.code === "NOT_CUSTOMS_OF") message = { kind: "error", text: "403 \u2014 This worklist is for customs of " + officerCountry() + ": your credential is not theirs." };
      show("worklist-message", message);
    });
  }

  function setLive(state, text) {
    var box = $("live-status");
    box.className = "live " + state;
    box.textContent = text;
  }

  /* One Server-Sent Events stream (read with fetch, so the credential goes as a header,
     never in the URL); a change reloads the worklist's first page, at most twice a second. */
  function connectLive(country) {
    if (live.abort) live.abort.abort();
    clearTimeout(live.timer);
    var ctrl = new AbortController();
    live.abort = ctrl;
    live.country = country;
    fetch("/v1/worklist/events?country=" + encodeURIComponent(country), { headers: headers(), signal: ctrl.signal, cache: "no-store" })
      .then(function (response) {
        if (!response.ok || !response.body) throw new Error("status " + response.status);
        setLive("on", "\u25CF Live \u2014 updates as records land");
        live.retry = 1000;
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return "ended";
            buffer += decoder.decode(chunk.value, { stream: true });
            var blocks = buffer.split("\n\n");
            buffer = blocks.pop();
            blocks.forEach(function (block) {
              if (/^event: changed$/m.test(block)) scheduleReload();
            });
            return pump();
          });
        }
        return pump();
      })
      .then(function () {
        if (!ctrl.signal.aborted) connectLive(country); // the service ends a stream now and then
      }, function () {
        if (ctrl.signal.aborted) return;
        setLive("lost", "\u26A0 Connection lost \u2014 reconnecting\u2026 (the worklist may be out of date)");
        live.timer = setTimeout(function () { connectLive(country); }, live.retry);
        live.retry = Math.min(live.retry * 2, 15000);
      });
  }

  function scheduleReload() {
    if (live.reload) return;
    live.reload = setTimeout(function () {
      live.reload = null;
      loadWorklist(false);
      if ($("hit-rates").tBodies[0].rows.length) loadRates();
    }, 500);
  }

  function loadRates() {
    var q = new URLSearchParams({ country: officerCountry() });
    if (unix("rates-since")) q.set("since", unix("rates-since"));
    if (unix("rates-until")) q.set("until", String(Number(unix("rates-until")) + 86400));
    return request("/v1/rules/hit-rates?" + q.toString()).then(function (r) { return r.json(); }).then(function (answer) {
      var body = $("hit-rates").tBodies[0];
      body.textContent = "";
      answer.rules.forEach(function (rule) {
        var rate = rule.discrepancy_rate == null ? "\u2014" : Math.round(rule.discrepancy_rate * 100) + "% of inspections";
        body.appendChild(el("tr", { "data-rule": rule.rule }, [
          el("td", {}, [el("span", { class: "code", text: rule.rule }), " " + rule.description]),
          el("td", { text: String(rule.flagged) }),
          el("td", { text: String(rule.inspected) }),
          el("td", { text: String(rule.discrepancies) }),
          el("td", { text: rate }),
        ]));
      });
      show("rates-message", null);
    }, function (err) { show("rates-message", explain(err)); });
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = el("a", { href: url, download: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  function downloadReceipt() {
    if (!last) return;
    var v = last.verification;
    var text = "Verification receipt (compact JWS, EdDSA; check against /v1/keys)\n" +
      "UCR: " + v.ucr + "\nVerifying country: " + v.verifying_country + "\nVerdict: " + v.verdict +
      "\nLane: " + v.risk.lane + " (score " + v.risk.score + ")\nAs of block: " + v.as_of_block +
      "\nDecision in force: " + (v.decision ? v.decision.decision + " by " + v.decision.by + " (customs of " +
        v.decision.country + ") at block " + v.decision.block : "none") +
      "\nEvidence hash: " + v.evidence_hash + "\n\n" + v.receipt + "\n";
    save(new Blob([text], { type: "text/plain" }), "receipt-" + v.ucr + "-" + v.verifying_country + ".txt");
  }

  function downloadEvidence() {
    if (!last) return;
    var v = last.verification;
    var path = "/v1/consignments/" + encodeURIComponent(last.ucr) + "/evidence?country=" +
      encodeURIComponent(last.country) + "&at_block=" + v.as_of_block;
    request(path)
      .then(function (r) { return r.blob(); })
      .then(function (blob) {
        save(new Blob([blob], { type: "application/json" }), "evidence-" + v.ucr + "-" + v.verifying_country + ".json");
      })
      .catch(function (err) { show("message", explain(err)); });
  }

  function downloadEpcis() {
    if (!last) return;
    request("/v1/consignments/" + encodeURIComponent(last.ucr) + "/epcis")
      .then(function (r) { return r.blob(); })
      .then(function (blob) {
        save(new Blob([blob], { type: "application/ld+json" }), "epcis-" + last.ucr + ".jsonld");
      })
      .catch(function (err) { show("message", explain(err)); });
  }

  function recognition(event) {
    event.preventDefault();
    var operator = $("operator").value.trim();
    var country = $("recognition-country").value.trim().toUpperCase();
    var out = $("recognition-result");
    out.hidden = true;
    show("recognition-message", null);
    request("/v1/recognition?operator=" + encodeURIComponent(operator) + "&country=" + encodeURIComponent(country))
      .then(function (r) { return r.json(); })
      .then(function (a) {
        out.textContent = "";
        out.appendChild(el("span", {
          class: a.recognised ? "yes" : "no",
          text: a.recognised ? "\u2714 Recognised by " + a.country : "\u2716 Not recognised by " + a.country,
        }));
        var details = " \u2014 reason " + a.reason;
        if (a.programme) details += " \u00B7 programme " + a.programme;
        if (a.mra_id != null) details += " \u00B7 MRA #" + a.mra_id;
        if (a.valid_until) details += " \u00B7 valid until " + new Date(a.valid_until * 1000).toISOString().slice(0, 10);
        out.appendChild(document.createTextNode(details));
        out.appendChild(el("div", { class: "meta addr", text: a.operator }));
        out.hidden = false;
      })
      .catch(function (err) { show("recognition-message", explain(err)); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) $("token").value = saved;
    $("verify-form").addEventListener("submit", verify);
    $("recognition-form").addEventListener("submit", recognition);
    $("download-receipt").addEventListener("click", downloadReceipt);
    $("download-evidence").addEventListener("click", downloadEvidence);
    $("download-epcis").addEventListener("click", downloadEpcis);
    $("worklist-form").addEventListener("submit", function (e) { e.preventDefault(); loadWorklist(false); });
    $("worklist-more").addEventListener("click", function () { loadWorklist(true); });
    $("rates-form").addEventListener("submit", function (e) { e.preventDefault(); loadRates(); });
    // The page opens on the worklist when this tab already holds a credential.
    if (saved) loadWorklist(false);
    $("key-form").addEventListener("submit", loadKey);
    $("forget-key").addEventListener("click", function () { forgetKey(false); });
    // The key goes with the tab: dropped when the page is hidden for good or unloaded.
    window.addEventListener("pagehide", function () { forgetKey(true); });
    $("decision-form").addEventListener("submit", signDecision);
    $("decision").addEventListener("change", toggleInspection);
    $("result-select").addEventListener("change", toggleInspection);
    toggleInspection();
    $("forget-token").addEventListener("click", function () {
      sessionStorage.removeItem(TOKEN_KEY);
      $("token").value = "";
      if (live.abort) live.abort.abort();
      live.country = null;
      setLive("off", "Not connected");
      show("message", { kind: "info", text: "Token forgotten for this tab." });
    });
  });
})();
