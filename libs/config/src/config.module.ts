import { Global, Module } from '@nestjs/common';
import { ConfigModule, registerAs } from '@nestjs/config';
import { AppConfig, loadAppConfig } from './app-config';

/** Injection token for the validated {@link AppConfig}. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** The typed config namespace; `main.ts` loads `.env` and validates the env before Nest starts. */
export const conveyorConfig = registerAs('conveyor', (): AppConfig => loadAppConfig(process.env));

@Global()
@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [conveyorConfig] })],
  providers: [{ provide: APP_CONFIG, useFactory: (config: AppConfig) => config, inject: [conveyorConfig.KEY] }],
  exports: [APP_CONFIG],
})
export class AppConfigModule {}
