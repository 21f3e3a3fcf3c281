import { startInProcessApi, type InProcessApi } from '@conveyor/testing';
import { apiAdapter, configureApiApp } from '../src/api-app';
import { ApiModule } from '../src/api.module';

/** The API app as apps/api sets it up, in this process (see startInProcessApi). */
export function startApi(env: Record<string, string> = {}): Promise<InProcessApi> {
  return startInProcessApi({ module: ApiModule, adapter: apiAdapter, configure: configureApiApp, env });
}
