import { Injectable } from '@nestjs/common';
import { anthropicWire } from 'src/modules/proxy/wire/anthropic/anthropic.wire';
import { WireFormatName } from 'src/kernel/wire-format-names';
import { openAIWire } from 'src/modules/proxy/wire/openai/openai.wire';
import type { WireFormat } from 'src/modules/proxy/wire/wire-format';

/** Every wire format by name: adding a format is its folder and one line here. */
export const WIRE_FORMATS: Record<WireFormatName, WireFormat> = {
  openai: openAIWire,
  anthropic: anthropicWire,
};

/** The registry of wire formats, injected where a format must be looked up by name. */
@Injectable()
export class WireFormats {
  get(name: WireFormatName): WireFormat {
    return WIRE_FORMATS[name];
  }

  /** True when some upstream of the list does not speak the Messages API natively. */
  anyNotMessagesNative(upstreams: readonly { format: WireFormatName }[]): boolean {
    return upstreams.some((u) => !WIRE_FORMATS[u.format].isMessagesNative);
  }
}
