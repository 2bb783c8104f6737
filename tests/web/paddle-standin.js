/*
 * A local stand-in for https://cdn.paddle.com/paddle/v2/paddle.js in the site's browser tests.
 *
 * It records Paddle.Environment.set, Paddle.Initialize and Paddle.Checkout.open in window.__paddleStandin.calls
 * and refuses (throws, as Paddle.js reports errors) what Paddle.js documents as wrong: Environment.set after
 * Initialize or with an unknown environment, Initialize twice or without a client-side token of the
 * environment's kind (test_ for sandbox, live_ for production), Checkout.open before Initialize or without
 * items or a Paddle transaction id. Like Paddle.js on a default payment link page, Initialize opens the
 * checkout for the page URL's _ptxn by itself (recorded as "Checkout.open by _ptxn"), then emits
 * checkout.loaded. window.__paddleStandin.emit(name, data) sends a checkout event to the page's
 * eventCallback, as Paddle.js does while the customer pays.
 */
(function () {
  "use strict";
  var calls = [];
  var state = { environment: "production", initialized: false, eventCallback: null };

  function refuse(message) {
    throw new Error("Paddle.js stand-in: " + message);
  }

  function emit(name, data) {
    if (typeof state.eventCallback === "function") {
      state.eventCallback({ name: name, data: data || {} });
    }
  }

  window.__paddleStandin = { calls: calls, emit: emit };

  window.Paddle = {
    Environment: {
      set: function (environment) {
        if (state.initialized) {
          refuse("Paddle.Environment.set() must be called before Paddle.Initialize()");
        }
        if (environment !== "sandbox" && environment !== "production") {
          refuse("unknown environment " + String(environment));
        }
        state.environment = environment;
        calls.push(["Environment.set", environment]);
      }
    },
    Initialize: function (options) {
      if (state.initialized) {
        refuse("Paddle.Initialize() can only be called once on a page");
      }
      if (!options || typeof options.token !== "string") {
        refuse("Paddle.Initialize() needs a client-side token");
      }
      var prefix = state.environment === "sandbox" ? "test_" : "live_";
      if (options.token.indexOf(prefix) !== 0) {
        refuse("a " + state.environment + " client-side token starts with " + prefix);
      }
      state.initialized = true;
      state.eventCallback = options.eventCallback || null;
      calls.push(["Initialize", { token: options.token, eventCallback: typeof options.eventCallback === "function" }]);
      var transactionId = new URLSearchParams(window.location.search).get("_ptxn");
      if (transactionId) {
        open({ transactionId: transactionId }, "Checkout.open by _ptxn");
      }
    },
    Checkout: {
      open: function (options) {
        open(options, "Checkout.open");
      }
    }
  };

  function open(options, record) {
    if (!state.initialized) {
      refuse("Paddle.Checkout.open() before Paddle.Initialize()");
    }
    if (!options || (!options.transactionId && !options.items)) {
      refuse("Paddle.Checkout.open() needs items or a transactionId");
    }
    if (options.transactionId && !/^txn_[a-z\d]{26}$/.test(options.transactionId)) {
      refuse("not a Paddle transaction id: " + String(options.transactionId));
    }
    calls.push([record, JSON.parse(JSON.stringify(options))]);
    emit("checkout.loaded", { transaction_id: options.transactionId || null, status: "draft" });
  }
})();
